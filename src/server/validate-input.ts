import { validate, type ValidationError } from "class-validator";
import { getNamedType, type GraphQLResolveInfo } from "graphql";
import type { ValidatorFn } from "type-graphql";
import { requestErrors } from "./request.errors";

/**
 * Validates every input-object argument with class-validator and answers BAD_USER_INPUT naming each bad
 * field by its full path (`input.hyperparameters.learningRate`). Runs before the resolver, so bad input
 * changes nothing. Neither the rejected values nor the input object are echoed back (an apiKey may be one).
 * No string anywhere in an input may hold a NUL character: PostgreSQL text cannot store one.
 */
export const validateInput: ValidatorFn = async (argValue: unknown, argType, { info }) => {
  if (argValue === null || typeof argValue !== "object" || typeof argType !== "function") return;
  const items: unknown[] = Array.isArray(argValue) ? argValue : [argValue];
  const argName = argumentName(info, argType.name);
  const fields: { field: string; message: string }[] = [];
  for (const [index, item] of items.entries()) {
    if (item === null || typeof item !== "object") continue;
    const errors = await validate(item, {
      skipMissingProperties: true,
      forbidUnknownValues: false,
      validationError: { target: false, value: false },
    });
    const prefix = Array.isArray(argValue) ? `${argName}.${index}` : argName;
    fields.push(...flattenValidationErrors(errors, prefix), ...nulCharacterFields(item, prefix));
  }
  if (fields.length > 0) throw requestErrors.invalidInput(fields);
};

function argumentName(info: GraphQLResolveInfo, typeName: string): string {
  const field = info.parentType.getFields()[info.fieldName];
  return field?.args.find((arg) => getNamedType(arg.type).name === typeName)?.name ?? "input";
}

/** class-validator's nested errors as dotted field paths. */
export function flattenValidationErrors(
  errors: readonly ValidationError[],
  prefix: string,
): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  for (const error of errors) {
    const field = `${prefix}.${error.property}`;
    for (const message of Object.values(error.constraints ?? {})) {
      out.push({ field, message: message.replace(new RegExp(`^${error.property}\\s`), "") });
    }
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

/** Every string field under `value` that holds a NUL character, by its dotted path. */
function nulCharacterFields(value: unknown, path: string): { field: string; message: string }[] {
  if (typeof value === "string") {
    return value.includes("\u0000")
      ? [{ field: path, message: "must not contain a NUL character (\\u0000)" }]
      : [];
  }
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([key, inner]) => nulCharacterFields(inner, `${path}.${key}`));
}
