/**
 * Monaco (GraphiQL 5's editor) runs its language services in web workers. GraphiQL's own setup files load
 * them from esm.sh or through a bundler plugin; here they are bundled by src/web/build.ts next to this
 * bundle, and their hashed URLs are compiled in, so nothing is fetched from another origin.
 */
interface MonacoEnvironment {
  getWorker(workerId: string, label: string): Worker;
}

(globalThis as { MonacoEnvironment?: MonacoEnvironment }).MonacoEnvironment = {
  getWorker(_workerId, label) {
    switch (label) {
      case "json":
        return new Worker(__MONACO_WORKERS__.json, { name: "json" });
      case "graphql":
        return new Worker(__MONACO_WORKERS__.graphql, { name: "graphql" });
      default:
        return new Worker(__MONACO_WORKERS__.editor, { name: label });
    }
  },
};
