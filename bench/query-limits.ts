/**
 * What the query limits cost per request, in one process, the variants interleaved round by round (median of
 * `--rounds`, each round timing every variant for `--ms`):
 * - validation with graphql-armor's rules plus the variable-aware cost estimate (src/server/query-limits.ts), and
 *   with the hand-written rules they replaced (src/server/query-limits.ts at commit 5a76cb5, read with `git show`;
 *   left out where that commit is not in the checkout);
 * - parsing with graphql-js's `maxTokens` against graphql-armor's max-tokens parser (a Proxy over the lexer).
 * Ceiling, same run: graphql-js's specified rules alone (what validation costs without any limit).
 *
 *   node -r ./test/support/register-ts.js bench/query-limits.ts [--rounds 7] [--ms 300]
 *
 * Two documents: the dashboard's deployment list (`Deployments`, fragments, `$first` = 20) and a large one near
 * the limits (28 aliased deployment pages with their fields inlined, about 2,600 tokens). No database, no server.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { MaxTokensParserWLexer } from "@escape.tech/graphql-armor-max-tokens";
import {
  buildSchema,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ValidationRule,
} from "graphql";
import { DEFAULT_QUERY_LIMITS, queryCostError, queryLimitRules } from "../src/server/query-limits";
import { DEPLOYMENTS } from "../src/web/client/dashboard/operations";
import { REPO_ROOT } from "./lib/children";
import { fmt, header, median, RESULTS_DIR, round, verdict, writeResult, type Verdict } from "./lib/report";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "7" },
    ms: { type: "string", default: "300" },
  },
});
const ROUNDS = Number(args.rounds);
const MS = Number(args.ms);
/** The limits may add this much to graphql-js's own validation of a document. */
const TARGET_OVERHEAD = 0.25;
const HAND_WRITTEN_AT = "5a76cb5";

const schema = buildSchema(readFileSync(path.join(REPO_ROOT, "schema", "schema.graphql"), "utf8"));

/** The hand-written rules as they were, or undefined where that commit is not in this checkout. */
function handWrittenRules(): ValidationRule[] | undefined {
  let source: string;
  try {
    source = execFileSync("git", ["show", `${HAND_WRITTEN_AT}:src/server/query-limits.ts`], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return undefined;
  }
  // Beside the bench's results (git-ignored), so that its imports resolve from this checkout.
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, "hand-written-query-limits.ts");
  writeFileSync(file, source.replace('"../errors/app-error"', '"../../src/errors/app-error"'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const old = require(file) as {
    queryLimitRules(limits: unknown): ValidationRule[];
    DEFAULT_QUERY_LIMITS: unknown;
  };
  return old.queryLimitRules(old.DEFAULT_QUERY_LIMITS);
}

/** The large document: the dashboard's deployment fields, inlined, under 28 aliased pages. */
function largeDocument(): string {
  const deploymentFields = /fragment DeploymentFields on Deployment \{([\s\S]*?)\n {2}\}\n/.exec(
    DEPLOYMENTS,
  )![1];
  const metricFields = /fragment MetricFields on TrainingMetric \{([\s\S]*?)\}/.exec(DEPLOYMENTS)![1];
  const node = deploymentFields.replace("...MetricFields", metricFields);
  const pages = Array.from(
    { length: 28 },
    (_, i) =>
      `d${i}: deployments(first: 1) { edges { node { ${node} job { metrics(limit: 50) { ${metricFields} } } } } }`,
  );
  return `query Large {\n${pages.join("\n")}\n}`;
}

function tokenCount(source: string): number {
  const parser = new MaxTokensParserWLexer(source, { n: Number.MAX_SAFE_INTEGER });
  parser.parseDocument();
  return parser.tokenCount;
}

/**
 * CPU microseconds per call of `fn`, calling it for `ms` of wall time after a short warm-up. CPU time, not wall
 * time: on a shared machine other processes' turns would land on whichever variant was running.
 */
function time(fn: () => void, ms = MS): number {
  for (let i = 0; i < 30; i++) fn();
  let calls = 0;
  const end = Date.now() + ms;
  const cpu = process.cpuUsage();
  while (Date.now() < end) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
  }
  const used = process.cpuUsage(cpu);
  return (used.user + used.system) / calls;
}

header(
  "query-limits",
  "validation and parse time per request: graphql-armor's limits against the hand-written ones",
);
const oldRules = handWrittenRules();
const armorRules = queryLimitRules();
const { maxTokens } = DEFAULT_QUERY_LIMITS;
const verdicts: Verdict[] = [];
const figures: Record<string, Record<string, number>> = {};

for (const [name, source, variables] of [
  ["dashboard Deployments", DEPLOYMENTS, { first: 20 }],
  ["large, 28 pages inlined", largeDocument(), {}],
] as const) {
  const document: DocumentNode = parse(source);
  const operation = getOperationAST(document)!;
  const refusals = [
    ...validate(schema, document, [...specifiedRules, ...armorRules]),
    queryCostError(schema, document, operation, variables),
    ...(oldRules ? validate(schema, document, [...specifiedRules, ...oldRules]) : []),
  ].filter(Boolean);
  if (refusals.length > 0)
    throw new Error(`${name} is refused: ${refusals.map((e) => e?.message).join("; ")}`);

  const variants: Record<string, () => void> = {
    "specified rules alone (ceiling)": () => validate(schema, document, specifiedRules),
    "specified + armor rules + cost": () => {
      validate(schema, document, [...specifiedRules, ...armorRules]);
      queryCostError(schema, document, operation, variables);
    },
    "cost estimate alone (every request)": () => queryCostError(schema, document, operation, variables),
    "parse, graphql-js maxTokens": () => parse(source, { maxTokens }),
    "parse, armor max-tokens parser": () =>
      new MaxTokensParserWLexer(source, { n: maxTokens }).parseDocument(),
  };
  if (oldRules)
    variants["specified + hand-written rules"] = () =>
      validate(schema, document, [...specifiedRules, ...oldRules]);
  const samples: Record<string, number[]> = {};
  const entries = Object.entries(variants);
  for (let r = 0; r < ROUNDS; r++) {
    // Each round starts with another variant, so a slow moment of the machine does not always fall on the same one.
    for (let i = 0; i < entries.length; i++) {
      const [variant, fn] = entries[(i + r) % entries.length];
      (samples[variant] ??= []).push(time(fn));
    }
  }
  const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  figures[name] = Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round(v, 1)]));

  console.log(`\n  ${name}: ${fmt(tokenCount(source))} tokens`);
  for (const [variant, us] of Object.entries(m))
    console.log(`    ${variant.padEnd(40)} ${fmt(us, 1).padStart(9)} µs CPU`);
  const ceiling = m["specified rules alone (ceiling)"];
  const armor = m["specified + armor rules + cost"];
  const overhead = armor / ceiling - 1;
  verdicts.push(
    verdict(
      `${name}: validation with the limits`,
      `${fmt(armor, 1)} µs (+${fmt(overhead * 100)} %)`,
      `specified rules alone ${fmt(ceiling, 1)} µs`,
      `+${TARGET_OVERHEAD * 100} % at most`,
      overhead <= TARGET_OVERHEAD,
    ),
  );
  if (oldRules) {
    const old = m["specified + hand-written rules"];
    console.log(`    armor + cost / hand-written: ${fmt(armor / old, 2)}`);
  }
  console.log(
    `    armor parser / graphql-js parser: ${fmt(m["parse, armor max-tokens parser"] / m["parse, graphql-js maxTokens"], 2)}`,
  );
}

writeResult("query-limits", {
  rounds: ROUNDS,
  msPerVariant: MS,
  handWrittenAt: oldRules ? HAND_WRITTEN_AT : null,
  figures,
  verdicts,
});
