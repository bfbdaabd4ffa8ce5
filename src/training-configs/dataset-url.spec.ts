import { isDatasetUrl } from "./dataset-url";

describe("isDatasetUrl", () => {
  it.each<[string, boolean]>([
    ["https://example.com/alpaca.jsonl", true],
    ["https://huggingface.co/datasets/tatsu-lab/alpaca/resolve/main/data.json", true],
    ["hf://datasets/tatsu-lab/alpaca", true],
    ["hf://datasets/tatsu-lab/alpaca@main", true],
    ["hf://datasets/tatsu-lab/alpaca/data/train-00000-of-00001.parquet", true],
    ["hf://datasets/tatsu-lab/alpaca/data/train.jsonl@v1.0", true],
    ["hf://datasets/HuggingFaceH4/ultrachat_200k@refs/convert/parquet", true],
    ["hf://datasets/tatsu-lab/alpaca@0123456789abcdef0123456789abcdef01234567", true],
    ["http://example.com/d.jsonl", false],
    ["/etc/passwd", false],
    ["hf://tatsu-lab/alpaca", false],
    ["hf://models/meta-llama/Llama-3.2-1B", false],
    ["hf://datasets/alpaca", false],
    ["hf://datasets/tatsu-lab/", false],
    ["hf://datasets/tatsu-lab/alpaca/../../secret", false],
    ["hf://datasets/tatsu--lab/alpaca", false],
    ["hf://datasets/tatsu-lab/alpaca@", false],
    ["hf://datasets/tatsu-lab/alpaca@../x", false],
    ["hf://datasets/tatsu-lab/alpaca/data file.json", false],
    ["hf://datasets/tatsu-lab/alpaca@main/extra@dev", false],
    ["HF://datasets/tatsu-lab/alpaca", false],
  ])("%s -> %p", (url, ok) => {
    expect(isDatasetUrl(url)).toBe(ok);
  });
});
