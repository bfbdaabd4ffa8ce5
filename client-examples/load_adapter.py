#!/usr/bin/env python3
"""Takes a trained result home: downloads a job's artifact from TrainGate, checks it, loads it, and generates.

    python3 client-examples/load_adapter.py --job <jobId> [--url http://localhost:4000] [--token <jwt>]
    python3 client-examples/load_adapter.py --download-url '<signed link>' --sha256 <hex>

1. Asks the gateway for `trainingJob(id) { artifact { sha256 sizeBytes downloadUrl files } }` (with the JWT), or
   takes a signed link and its SHA-256 from the command line (the link is enough to download; no token).
2. Downloads the tar with the signed link into `--dest` (default ./artifacts/<jobId>), hashing as it goes; a
   size or SHA-256 that differs from what the gateway stated deletes the download and exits 1.
3. Unpacks it (refusing any member that would land outside the folder, a link or a device).
4. Loads the base model named by the adapter (`adapter_config.json`'s `base_model_name_or_path`, or
   `--base-model`), puts the adapter on it with peft, and generates a sentence from `--prompt`.

Steps 1-3 use the standard library only; step 4 needs torch, transformers and peft (`--download-only` skips
it). --url and --token fall back to TRAINGATE_URL (default http://localhost:4000) and TRAINGATE_TOKEN. The token
and the link's signature are never printed. Exit status: 0 ok, 1 error, 2 usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

ARTIFACT_QUERY = """
query Artifact($id: ID!) {
  trainingJob(id: $id) {
    id status
    artifact { uri sizeBytes sha256 downloadUrl files { name sizeBytes } }
  }
}
"""

PIECE = 1024 * 1024


class Failure(Exception):
    """An error to print and exit 1 with."""


def say(message: str) -> None:
    print(message, flush=True)


def graphql(url: str, token: str, query: str, variables: Dict[str, Any]) -> Dict[str, Any]:
    request = urllib.request.Request(
        url.rstrip("/") + "/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode("utf-8"),
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        body = json.loads(error.read().decode("utf-8") or "{}")
    except urllib.error.URLError as error:
        raise Failure(f"cannot reach the gateway at {url}: {error.reason}") from None
    errors = body.get("errors") or []
    if errors:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code", "ERROR")
        raise Failure(f"{code}: {first.get('message')}")
    return body.get("data") or {}


def find_artifact(url: str, token: str, job_id: str) -> Dict[str, Any]:
    job = graphql(url, token, ARTIFACT_QUERY, {"id": job_id}).get("trainingJob")
    if job is None:
        raise Failure(f"NOT_FOUND: no training job {job_id} for this token")
    artifact = job.get("artifact")
    if artifact is None:
        raise Failure(
            f"job {job_id} ({job.get('status')}) has no result stored at the gateway "
            "(still running, pushed elsewhere, or deleted)"
        )
    return artifact


def safe_link(link: str) -> str:
    """The link without its signature, for messages."""
    parts = urllib.parse.urlsplit(link)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def download(link: str, target: str, sha256: str, size: Optional[int]) -> None:
    """Streams the tar to `target`, hashing it; on any mismatch nothing is left at `target`."""
    part = target + ".part"
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(link, timeout=60) as response, open(part, "wb") as out:
            for block in iter(lambda: response.read(PIECE), b""):
                digest.update(block)
                received += len(block)
                out.write(block)
    except urllib.error.HTTPError as error:
        _remove(part)
        hint = " (the signed link expires: ask for the artifact again)" if error.code in (403, 404) else ""
        raise Failure(f"download from {safe_link(link)} answered {error.code}{hint}") from None
    except urllib.error.URLError as error:
        _remove(part)
        raise Failure(f"download from {safe_link(link)} failed: {error.reason}") from None
    if size is not None and received != size:
        _remove(part)
        raise Failure(f"size mismatch: the gateway stated {size} bytes, {received} arrived; nothing kept")
    actual = digest.hexdigest()
    if actual != sha256.lower():
        _remove(part)
        raise Failure(f"SHA-256 mismatch: expected {sha256.lower()}, got {actual}; nothing kept")
    os.replace(part, target)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def unpack(tar_path: str, folder: str) -> List[str]:
    """Extracts regular files and folders only, each inside `folder`; answers the file names."""
    root = os.path.realpath(folder)
    names: List[str] = []
    with tarfile.open(tar_path, "r:") as archive:
        members = archive.getmembers()
        for member in members:
            target = os.path.realpath(os.path.join(root, member.name))
            if not (member.isfile() or member.isdir()) or os.path.commonpath([root, target]) != root:
                raise Failure(f"the archive holds an unsafe member {member.name!r}; not unpacked")
        for member in members:
            if member.isdir():
                os.makedirs(os.path.join(root, member.name), exist_ok=True)
                continue
            destination = os.path.join(root, member.name)
            os.makedirs(os.path.dirname(destination), exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            with source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, PIECE)
            names.append(os.path.normpath(member.name))
    return names


def load_and_generate(adapter_dir: str, base_model: Optional[str], prompt: str, max_new_tokens: int) -> str:
    """Loads the base model, puts the adapter on it, and answers the generated continuation of `prompt`."""
    import torch  # noqa: PLC0415 (heavy; only this step needs it)
    from peft import PeftConfig, PeftModel  # noqa: PLC0415
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: PLC0415

    base = base_model or PeftConfig.from_pretrained(adapter_dir).base_model_name_or_path
    if not base:
        raise Failure("the adapter names no base model: pass --base-model")
    say(f"base model: {base}")
    has_tokenizer = any(
        os.path.exists(os.path.join(adapter_dir, name)) for name in ("tokenizer.json", "tokenizer_config.json")
    )
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir if has_tokenizer else base)
    model = AutoModelForCausalLM.from_pretrained(base)
    model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    lora_layers = sum(1 for name, _ in model.named_modules() if name.endswith("lora_A"))
    say(f"adapter loaded: {lora_layers} LoRA layers")
    inputs = tokenizer(prompt, return_tensors="pt")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    with torch.no_grad():
        output = model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad
        )
    return tokenizer.decode(output[0][inputs["input_ids"].shape[1]:], skip_special_tokens=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("TRAINGATE_URL", "http://localhost:4000"))
    parser.add_argument("--token", default=os.environ.get("TRAINGATE_TOKEN"))
    parser.add_argument("--job", help="the training job whose artifact to fetch (asks the gateway, needs --token)")
    parser.add_argument("--download-url", help="a signed download link (instead of --job)")
    parser.add_argument("--sha256", help="the artifact's SHA-256 (with --download-url)")
    parser.add_argument("--dest", help="folder for the tar and the unpacked adapter (default ./artifacts/<job>)")
    parser.add_argument("--base-model", help="base model id or path (default: the adapter's own)")
    parser.add_argument("--prompt", default="The quick brown fox")
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--download-only", action="store_true", help="stop after the verified unpack")
    args = parser.parse_args(argv)

    if bool(args.job) == bool(args.download_url):
        parser.print_usage(sys.stderr)
        print("load_adapter.py: give --job, or --download-url with --sha256", file=sys.stderr)
        return 2
    if args.download_url and not args.sha256:
        print("load_adapter.py: --download-url needs --sha256 (the hash the gateway states)", file=sys.stderr)
        return 2
    if args.job and not args.token:
        print("load_adapter.py: --job needs --token (or TRAINGATE_TOKEN)", file=sys.stderr)
        return 2

    try:
        if args.job:
            artifact = find_artifact(args.url, args.token, args.job)
            link, sha256, size = artifact["downloadUrl"], artifact["sha256"], artifact["sizeBytes"]
            name = args.job
            say(f"artifact: {artifact['uri']}, {size} bytes, {len(artifact['files'])} files")
        else:
            link, sha256, size = args.download_url, args.sha256, None
            name = urllib.parse.urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1] or "artifact"
        dest = args.dest or os.path.join("artifacts", name)
        os.makedirs(dest, exist_ok=True)
        tar_path = os.path.join(dest, "artifact.tar")
        download(link, tar_path, sha256, size)
        say(f"sha256 verified: {sha256.lower()}")
        adapter_dir = os.path.join(dest, "adapter")
        shutil.rmtree(adapter_dir, ignore_errors=True)
        files = unpack(tar_path, adapter_dir)
        say(f"unpacked {len(files)} files into {adapter_dir}")
        if args.download_only:
            return 0
        text = load_and_generate(adapter_dir, args.base_model, args.prompt, args.max_new_tokens)
        say(f"generated: {args.prompt}{text}")
        return 0
    except Failure as error:
        print(f"load_adapter.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
