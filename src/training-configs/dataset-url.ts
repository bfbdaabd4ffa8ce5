import { ValidateBy, isURL, type ValidationOptions } from "class-validator";

/** `hf://datasets/<owner>/<name>[/<file path>][@<revision>]`, the public API's Hub form of a dataset URL. */
const HUB_DATASET_URL =
  /^hf:\/\/datasets\/([A-Za-z0-9][A-Za-z0-9._-]{0,95})\/([A-Za-z0-9][A-Za-z0-9._-]{0,95})((?:\/[\w.-]+)*)(?:@([\w./-]{1,255}))?$/;

export const DATASET_URL_MESSAGE =
  "datasetUrl must be an https URL of a JSON or JSONL dataset, or a Hugging Face dataset as " +
  "hf://datasets/<owner>/<name>[/<file>][@<revision>], e.g. hf://datasets/tatsu-lab/alpaca or " +
  "hf://datasets/tatsu-lab/alpaca/data/train-00000-of-00001.parquet@main";

/** Whether `value` is a Hub dataset URL: repo ids as the Hub allows them, no `..` anywhere. Pure. */
export function isHubDatasetUrl(value: string): boolean {
  const match = HUB_DATASET_URL.exec(value);
  if (!match) return false;
  const [, owner = "", name = "", path = "", revision] = match;
  const repoOk = [owner, name].every((part) => !part.includes("--") && !part.includes(".."));
  const pathOk = path.split("/").every((segment) => segment !== "." && segment !== "..");
  const revisionOk =
    revision === undefined ||
    (!revision.includes("..") && !revision.startsWith("/") && !revision.endsWith("/"));
  return repoOk && pathOk && revisionOk;
}

/** An https URL (as before), or a Hub dataset URL. Pure. */
export function isDatasetUrl(value: string): boolean {
  if (/^hf:/i.test(value)) return isHubDatasetUrl(value);
  return isURL(value, { protocols: ["https"], require_protocol: true, require_tld: false });
}

/** class-validator decorator for {@link isDatasetUrl}. */
export function IsDatasetUrl(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: "isDatasetUrl",
      validator: {
        validate: (value: unknown) => typeof value === "string" && isDatasetUrl(value.trim()),
        defaultMessage: () => DATASET_URL_MESSAGE,
      },
    },
    options,
  );
}
