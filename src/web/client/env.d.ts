/** Modules esbuild turns into something other than JavaScript (see src/web/build.ts). */
declare module "*.graphql" {
  const sdl: string;
  export default sdl;
}

declare module "*.css";

/** Worker script URLs, fixed at build time once the workers' hashed names are known. */
declare const __MONACO_WORKERS__: { editor: string; json: string; graphql: string };
