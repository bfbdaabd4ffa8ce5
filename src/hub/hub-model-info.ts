import { modelSizeFromHubInfo, modelSizeFromId, type ModelSize } from "./model-size";

export interface HubLogger {
  debug(obj: Record<string, unknown>, msg: string): void;
}

export interface HubModelInfoOptions {
  /** The Hub's base URL, `https://huggingface.co` or a mirror (`HF_ENDPOINT`). */
  readonly endpoint: string;
  /** The whole request, connection included. Default 3 s: a deploy must not wait on the Hub. */
  readonly timeoutMs?: number;
  readonly logger?: HubLogger;
}

/**
 * Model sizes from the Hugging Face Hub's model metadata (`GET <endpoint>/api/models/<id>`), with a short
 * timeout; when the Hub does not answer usefully (down, slow, private without a token, no safetensors summary),
 * the size is estimated from the model id. The caller's token, when given, goes in the Authorization header
 * only and is never logged.
 */
export class HubModelInfoClient {
  private readonly timeoutMs: number;

  constructor(private readonly options: HubModelInfoOptions) {
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  /** The model's size, or null when neither the Hub nor the id tells it. */
  async modelSize(modelId: string, hfToken?: string): Promise<ModelSize | null> {
    return (await this.fromHub(modelId, hfToken)) ?? modelSizeFromId(modelId);
  }

  private async fromHub(modelId: string, hfToken: string | undefined): Promise<ModelSize | null> {
    const path = modelId.split("/").map(encodeURIComponent).join("/");
    const url = `${this.options.endpoint.replace(/\/+$/, "")}/api/models/${path}`;
    try {
      const response = await fetch(url, {
        headers: { accept: "application/json", ...(hfToken ? { authorization: `Bearer ${hfToken}` } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!response.ok) {
        this.options.logger?.debug({ modelId, status: response.status }, "no model metadata from the Hub");
        await response.body?.cancel();
        return null;
      }
      return modelSizeFromHubInfo(await response.json());
    } catch (error) {
      // Only the error's name: a message may quote the request.
      this.options.logger?.debug(
        { modelId, err: error instanceof Error ? error.name : "unknown" },
        "the Hub did not answer for model metadata",
      );
      return null;
    }
  }
}
