// The part of autocannon 8's API the benches use (the package ships no types, and @types/autocannon describes v7).
declare module "autocannon" {
  import type { EventEmitter } from "node:events";

  namespace autocannon {
    interface RequestParams {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }

    /** One request template; `setupRequest` runs before every send, `onResponse` after every answer. */
    interface Request<C extends object> extends RequestParams {
      setupRequest?: (request: RequestParams, context: C) => RequestParams | null;
      onResponse?: (status: number, body: string, context: C) => void;
    }

    interface Options<C extends object> {
      url: string;
      connections?: number;
      duration?: number;
      pipelining?: number;
      /** Seconds without an answer before a request counts as a timeout. */
      timeout?: number;
      method?: string;
      headers?: Record<string, string>;
      body?: string;
      requests?: Request<C>[];
      /** Copied (deep) for every request cycle of every connection. */
      initialContext?: C;
    }

    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
    }

    interface Result {
      requests: Histogram & { sent: number };
      latency: Histogram;
      throughput: Histogram;
      errors: number;
      timeouts: number;
      mismatches: number;
      resets: number;
      non2xx: number;
      "2xx": number;
      statusCodeStats: Record<string, { count: number }>;
      /** Seconds the run took. */
      duration: number;
    }

    interface Instance extends EventEmitter, PromiseLike<Result> {}
  }

  function autocannon<C extends object>(options: autocannon.Options<C>): autocannon.Instance;
  export = autocannon;
}
