#!/usr/bin/env bash
# TrainGate pod bootstrap: install, download, train, deliver, report, then end this pod.
#
# It runs as the container's command on a RunPod pod, from the folder that also holds train.py,
# metrics_reporter.py and hub_push.py (TRAINGATE_HOME, by default this file's folder). Every input
# arrives in environment variables rendered by the gateway; no value is ever evaluated as shell
# code, only passed as a quoted argument or read by Python from the environment.
#
# A RunPod container that exits is restarted (re-running the training) and keeps billing,
# so this script always ends by terminating (or, with output.onComplete STOP, stopping) its own
# pod through RunPod's REST API with the pod-scoped RUNPOD_API_KEY, also when anything fails:
# the EXIT trap reports "failed" with the tail of the failing step's log and ends the pod. It
# never sleeps to keep the pod alive. README.md beside this file lists the environment contract.
set -euo pipefail

# The Python packages come from requirements.txt beside this file (pinned; the torch that the
# runpod/pytorch image ships is kept: a constraints file stops pip from replacing it).

# train.py's exit code for "stopped early on request, checkpoint saved" (see train.py).
readonly EXIT_STOPPED=3
# A step function returns this to say "retrying cannot help".
readonly EXIT_PERMANENT=100

FINALIZED=0
SIGNAL_RECEIVED=""
STEP="start"
STEP_LOG=""
FAIL_REASON=""
END_ACTION="TERMINATE"
PRIVATE_DIR=""
STOP_ASKED=0
FAIL_NO_TAIL=0
TRAIN_PID=""
WAIT_INTERRUPTED=0

log() {
  printf '%s traingate: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

# json_string VALUE: VALUE as a JSON string literal, escaped in pure bash (no python: it may be
# the thing that failed). Works byte-wise, so UTF-8 passes through untouched.
json_string() {
  local LC_ALL=C
  local s=$1 code hex ch esc
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  for ((code = 1; code < 32; code++)); do
    case $code in 9 | 10 | 13) continue ;; esac
    printf -v hex '%02x' "$code"
    printf -v ch '%b' "\\x$hex"
    if [[ $s == *"$ch"* ]]; then
      printf -v esc '\\u%04x' "$code"
      s=${s//"$ch"/$esc}
    fi
  done
  printf '"%s"' "$s"
}

# tail_of FILE: the last ~2 KB of FILE as valid UTF-8 (a cut can split a multi-byte character).
tail_of() {
  local file=$1
  [[ -s $file ]] || return 0
  if command -v iconv >/dev/null 2>&1; then
    tail -c 2000 -- "$file" | iconv -c -f UTF-8 -t UTF-8 || true
  else
    tail -c 2000 -- "$file"
  fi
}

# backoff_delay ATTEMPT: exponential backoff with jitter, capped at 60 s.
backoff_delay() {
  awk -v b="$RETRY_BASE" -v n="$1" -v r="$RANDOM" \
    'BEGIN { d = b * 2 ^ (n - 1); if (d > 60) d = 60; printf "%.3f", d / 2 + (d / 2) * r / 32767 }'
}

# redact_url URL: without query string and credentials (presigned URLs carry secrets there).
redact_url() {
  local url=${1%%\?*}
  url=${url%%#*}
  if [[ $url =~ ^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@(.*)$ ]]; then
    url="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
  fi
  printf '%s' "$url"
}

# with_retries ATTEMPTS WHAT CMD...: run CMD (output to the console and the step log) until it
# succeeds; EXIT_PERMANENT from CMD stops at once.
with_retries() {
  local attempts=$1 what=$2 n rc delay
  shift 2
  for ((n = 1; ; n++)); do
    rc=0
    "$@" 2>&1 | tee -a "$STEP_LOG" || rc=$?
    if ((rc == 0)); then
      return 0
    fi
    if ((rc == EXIT_PERMANENT || n >= attempts)); then
      log "$what failed (exit $rc, attempt $n)"
      return "$rc"
    fi
    delay=$(backoff_delay "$n")
    log "$what failed (exit $rc); retrying in ${delay}s"
    sleep "$delay"
  done
}

# phase NAME CMD...: run one step of the bootstrap with its own log file.
phase() {
  STEP=$1
  shift
  STEP_LOG="$LOG_DIR/$STEP.log"
  : >"$STEP_LOG"
  log "step: $STEP"
  "$@"
}

# --- HTTP --------------------------------------------------------------------------------------

HTTP_CODE=000

# http_once METHOD URL AUTH_HEADER_FILE [BODY_FILE]: one request; sets HTTP_CODE (000: no answer).
# The bearer token sits in a 0600 header file, so it never shows in a process listing or a log.
http_once() {
  local method=$1 url=$2 auth=$3 body=${4:-}
  local args=(-sS -X "$method" -o "$PRIVATE_DIR/response.body" -D "$PRIVATE_DIR/response.headers"
    -w '%{http_code}' --connect-timeout 10 --max-time "$HTTP_TIMEOUT" -H "@$auth")
  if [[ -n $body ]]; then
    args+=(-H 'Content-Type: application/json' --data-binary "@$body")
  elif [[ $method == POST ]]; then
    args+=(--data-binary '')
  fi
  : >"$PRIVATE_DIR/response.body"
  : >"$PRIVATE_DIR/response.headers"
  HTTP_CODE=$(curl "${args[@]}" -- "$url") || HTTP_CODE=000
  [[ $HTTP_CODE =~ ^[0-9]{3}$ ]] || HTTP_CODE=000
}

# http_retry ATTEMPTS ACCEPT_GONE METHOD URL AUTH [BODY]: retry on no answer, 408, 429 and 5xx
# (after Retry-After when the server sends one). 2xx succeeds; with ACCEPT_GONE=1, 404 and 410
# succeed too. Any other status fails at once.
http_retry() {
  local attempts=$1 accept_gone=$2 n delay hinted
  shift 2
  for ((n = 1; ; n++)); do
    http_once "$@"
    case $HTTP_CODE in
      2??) return 0 ;;
      404 | 410) if ((accept_gone)); then return 0; fi ;;
    esac
    case $HTTP_CODE in
      000 | 408 | 429 | 5??) ;;
      *)
        log "$1 $(redact_url "$2") answered $HTTP_CODE; not retrying"
        return 1
        ;;
    esac
    if ((n >= attempts)); then
      log "$1 $(redact_url "$2") failed $n times (last answer $HTTP_CODE)"
      return 1
    fi
    delay=$(backoff_delay "$n")
    hinted=$(tr -d '\r' <"$PRIVATE_DIR/response.headers" | awk 'tolower($1) == "retry-after:" { print $2 }' | tail -n 1)
    if [[ $hinted =~ ^[0-9]+$ ]]; then
      delay=$((hinted > 60 ? 60 : hinted))
    fi
    log "$1 $(redact_url "$2") answered $HTTP_CODE; retrying in ${delay}s"
    sleep "$delay"
  done
}

# report_status STATUS MESSAGE [ARTIFACT_URI] [ATTEMPTS] [REASON]: POST the job status to the gateway.
# REASON says why the trainer stopped by itself (budget_deadline), for the gateway to record.
report_status() {
  local status=$1 message=$2 artifact=${3:-} attempts=${4:-$HTTP_ATTEMPTS} reason=${5:-} body
  if [[ -z ${STATUS_URL:-} ]]; then
    log "cannot report status '$status': METRICS_API_URL, JOB_ID or JOB_TOKEN is missing"
    return 1
  fi
  body="{\"status\":$(json_string "$status"),\"message\":$(json_string "$message")"
  if [[ -n $artifact ]]; then
    body+=",\"artifact_uri\":$(json_string "$artifact")"
  fi
  if [[ -n $reason ]]; then
    body+=",\"reason\":$(json_string "$reason")"
  fi
  printf '%s}' "$body" >"$PRIVATE_DIR/status.json"
  if http_retry "$attempts" 0 POST "$STATUS_URL" "$PRIVATE_DIR/job.header" "$PRIVATE_DIR/status.json"; then
    log "reported status $status"
    if grep -Eq '"stop"[[:space:]]*:[[:space:]]*true' "$PRIVATE_DIR/response.body"; then
      STOP_ASKED=1
    fi
    return 0
  fi
  case $HTTP_CODE in
    401) log "the gateway refused the job token (401)" ;;
    409) log "the gateway says the job is already finished (409)" ;;
  esac
  return 1
}

# end_pod: terminate this pod, or stop it when END_ACTION is STOP. 404/410 mean already gone.
end_pod() {
  if [[ -z $PRIVATE_DIR ]]; then # init failed before making it
    PRIVATE_DIR=$(mktemp -d) && chmod 700 "$PRIVATE_DIR"
  fi
  if [[ -z ${RUNPOD_POD_ID:-} || -z ${RUNPOD_API_KEY:-} ]]; then
    log "RUNPOD_POD_ID or RUNPOD_API_KEY is not set: not on RunPod, no pod to end"
    return 0
  fi
  if [[ ! $RUNPOD_POD_ID =~ ^[A-Za-z0-9_-]+$ ]]; then
    log "RUNPOD_POD_ID has unexpected characters; not calling RunPod with it"
    return 1
  fi
  printf 'Authorization: Bearer %s\n' "${RUNPOD_API_KEY//[$'\r\n']/}" >"$PRIVATE_DIR/runpod.header"
  local base=${RUNPOD_REST_URL%/}/pods/$RUNPOD_POD_ID
  if [[ $END_ACTION == STOP ]]; then
    log "stopping pod $RUNPOD_POD_ID (its disk is kept)"
    http_retry "$END_ATTEMPTS" 1 POST "$base/stop" "$PRIVATE_DIR/runpod.header"
  else
    log "terminating pod $RUNPOD_POD_ID"
    http_retry "$END_ATTEMPTS" 1 DELETE "$base" "$PRIVATE_DIR/runpod.header"
  fi
}

# finalize STATUS MESSAGE [ARTIFACT_URI] [REASON]: report the outcome once, remember it, end the pod.
finalize() {
  FINALIZED=1
  report_status "$1" "$2" "${3:-}" "" "${4:-}" || log "the final status could not be delivered"
  if [[ -n ${DONE_MARKER:-} ]]; then
    # Remembered so that a restarted container does not train again (see main).
    if ! { mkdir -p "$(dirname "$DONE_MARKER")" && printf '%s\n%s\n' "$1" "$END_ACTION" >"$DONE_MARKER"; }; then
      log "could not write $DONE_MARKER"
    fi
  fi
  end_pod
}

failure_message() {
  local rc=$1 message tail
  message=${FAIL_REASON:-"$STEP failed (exit $rc)"}
  if [[ -n $STEP_LOG ]] && ((FAIL_NO_TAIL == 0)); then
    tail=$(tail_of "$STEP_LOG")
    if [[ -n $tail ]]; then
      message+=$'\n'"--- last output of $STEP ---"$'\n'"$tail"
    fi
  fi
  printf '%s' "$message"
}

on_signal() {
  SIGNAL_RECEIVED=$1
  if [[ -n $TRAIN_PID ]] && kill -0 "$TRAIN_PID" 2>/dev/null; then
    # The trainer saves a checkpoint and exits 3 on SIGTERM/SIGINT: pass the signal on and let
    # run_training's wait loop see it end (bash runs this trap while `wait` waits).
    WAIT_INTERRUPTED=1
    log "received SIG$1: passing it to the trainer (pid $TRAIN_PID) so that it saves a checkpoint"
    kill -s "$1" "$TRAIN_PID" 2>/dev/null || true
    return 0
  fi
  exit $((128 + $2))
}

on_exit() {
  local rc=$?
  set +e # the trap must get to the end whatever fails inside it
  trap - TERM INT
  if ((FINALIZED == 0)); then
    if [[ -n $SIGNAL_RECEIVED ]]; then
      # Someone is stopping this pod (the gateway, RunPod, a user): say so once, quickly, and
      # leave ending the pod to them: terminating here could destroy a disk they meant to keep.
      FINALIZED=1
      report_status stopped "bootstrap received SIG$SIGNAL_RECEIVED during $STEP" "" 1
    else
      log "failed during $STEP (exit $rc)${FAIL_REASON:+: $FAIL_REASON}"
      # Nothing finished is worth keeping a stopped pod's disk for: terminate.
      END_ACTION=TERMINATE
      finalize failed "$(failure_message "$rc")" "" || rc=1
    fi
  fi
  [[ -n $PRIVATE_DIR ]] && rm -rf -- "$PRIVATE_DIR"
  exit "$rc"
}

# --- steps -------------------------------------------------------------------------------------

read_config() {
  local fields="$PRIVATE_DIR/config.fields" values=()
  # train.py's own parser validates and fills the defaults; values come back NUL-separated.
  if ! "$PYTHON" - "$TRAINGATE_HOME" >"$fields" 2>>"$STEP_LOG" <<'PY'; then
import os
import sys

sys.path.insert(0, sys.argv[1])
import train

try:
    cfg = train.load_config(os.environ)
except train.ConfigError as exc:
    print(f"traingate: {exc}", file=sys.stderr)
    sys.exit(2)
out = cfg.output
values = [
    cfg.model_name,
    cfg.method,
    cfg.hyperparameters.quantization,
    cfg.dataset_url,
    out.hub_repo_id or "",
    "true" if out.hub_private else "false",
    out.network_volume_id or "",
    out.on_complete,
    "true" if cfg.quantization_bits else "false",
    "true" if out.gateway else "false",
]
if any("\0" in value for value in values):
    print("traingate: config values must not contain NUL characters", file=sys.stderr)
    sys.exit(2)
sys.stdout.write("".join(value + "\0" for value in values))
PY
    cat -- "$STEP_LOG" >&2
    FAIL_REASON="the training config is invalid"
    return 2
  fi
  mapfile -d '' -t values <"$fields"
  MODEL_NAME=${values[0]}
  METHOD=${values[1]}
  QUANTIZATION=${values[2]}
  DATASET_URL=${values[3]}
  HUB_REPO_ID=${values[4]}
  HUB_PRIVATE=${values[5]}
  NETWORK_VOLUME_ID=${values[6]}
  END_ACTION=${values[7]}
  NEEDS_BITSANDBYTES=${values[8]}
  OUTPUT_GATEWAY=${values[9]}
  log "config: model $MODEL_NAME, method $METHOD, quantization $QUANTIZATION, then $END_ACTION"
  if [[ -n $HUB_REPO_ID && -z ${HF_TOKEN:-} ]]; then
    FAIL_REASON="output.hubRepoId is set but HF_TOKEN is missing (save a HUGGINGFACE provider secret)"
    return 2
  fi
}

pip_install() {
  # No secret reaches pip (or the setup code of whatever it builds).
  env -u RUNPOD_API_KEY -u JOB_TOKEN -u HF_TOKEN "${PIP[@]}" install --no-cache-dir --disable-pip-version-check \
    --progress-bar off --retries 5 --timeout 60 -c "$PRIVATE_DIR/constraints.txt" "$@"
}

install_deps() {
  local requirements="$TRAINGATE_HOME/requirements.txt" torch_version=""
  if [[ ! -s $requirements ]]; then
    FAIL_REASON="requirements.txt is missing beside bootstrap.sh in $TRAINGATE_HOME"
    return "$EXIT_PERMANENT"
  fi
  # Keep the image's CUDA build of torch: a pin that needs another torch fails loudly instead.
  torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null) || torch_version=""
  if [[ -n $torch_version ]]; then
    printf 'torch==%s\n' "$torch_version" >"$PRIVATE_DIR/constraints.txt"
    log "keeping torch $torch_version"
  else
    : >"$PRIVATE_DIR/constraints.txt"
  fi
  # All of requirements.txt, bitsandbytes included even when this job does not quantize: the
  # installed set is always the one the real-library suite tested (its marker skips non-x86 hosts).
  if ! with_retries 3 "pip install" pip_install -r "$requirements"; then
    FAIL_REASON="installing the Python packages failed"
    return 1
  fi
}

fetch_dataset() {
  local url=$1 part=$2 rc=0 size
  rm -f -- "$part"
  # head stops the transfer one byte past the limit even when the server sends no length.
  curl -fsSL --proto '=http,https' --proto-redir '=http,https' --connect-timeout 20 \
    --max-time "$DOWNLOAD_TIMEOUT" --max-filesize "$MAX_DATASET_BYTES" -- "$url" |
    head -c "$((MAX_DATASET_BYTES + 1))" >"$part" || rc=$?
  size=$(wc -c <"$part")
  if ((size > MAX_DATASET_BYTES)) || ((rc == 63)); then
    printf 'the dataset is larger than the limit of %s bytes (TRAINGATE_MAX_DATASET_BYTES)\n' "$MAX_DATASET_BYTES"
    return "$EXIT_PERMANENT"
  fi
  if ((rc != 0)); then
    printf 'dataset download failed (curl exit %s)\n' "$rc"
    return "$rc"
  fi
  if ((size == 0)); then
    printf 'the dataset at %s is empty\n' "$(redact_url "$url")"
    return "$EXIT_PERMANENT"
  fi
}

# fetch_hub_dataset URL DIR: download hf://datasets/<owner>/<name>[/<file>][@<revision>] over the
# Hub's HTTP API (what huggingface_hub does: the revision's file list, then each file's resolve
# URL), HF_TOKEN as bearer on the Hub's origin only, and leave one JSON or JSONL file in DIR; its
# path goes to DIR/.result, a refusal's explanation to DIR/.error (exit EXIT_PERMANENT).
fetch_hub_dataset() {
  "$PYTHON" - "$1" "$2" "$MAX_DATASET_BYTES" "$DOWNLOAD_TIMEOUT" "$EXIT_PERMANENT" <<'PY'
import csv
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request

url, folder, limit, timeout, permanent = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
token = os.environ.get("HF_TOKEN") or ""
FORMATS = ("parquet", "jsonl", "json", "csv")  # preference when a repo holds several
METADATA = {"dataset_infos.json", "dataset_info.json", "dataset_dict.json", "state.json"}


class Refused(Exception):
    pass


def fail(message):
    with open(os.path.join(folder, ".error"), "w", encoding="utf-8") as handle:
        handle.write(message)
    print(f"traingate: {message}", file=sys.stderr)
    sys.exit(permanent)


match = re.fullmatch(r"hf://datasets/([A-Za-z0-9][\w.-]*)/([\w.-]+)((?:/[^@\s]+)?)(?:@([\w./-]+))?", url)
if not match or ".." in url:
    fail(f"not a Hub dataset URL: {url}")
repo, path, revision = f"{match.group(1)}/{match.group(2)}", match.group(3).lstrip("/"), match.group(4) or "main"
page = f"{endpoint}/datasets/{repo}"
origin = urllib.parse.urlsplit(endpoint)[:2]


class SameOriginAuth(urllib.request.HTTPRedirectHandler):
    """Redirects (the Hub sends file downloads to a CDN) never carry the token to another origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and urllib.parse.urlsplit(newurl)[:2] != origin:
            new.remove_header("Authorization")
        return new


opener = urllib.request.build_opener(SameOriginAuth)


def get(address):
    headers = {"User-Agent": "traingate-bootstrap/1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        return opener.open(urllib.request.Request(address, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode("utf-8", "replace").replace("\n", " ")
        if exc.code in (401, 403):
            who = "the saved HUGGINGFACE token" if token else "no HUGGINGFACE token (none is saved)"
            fail(
                f"the Hugging Face Hub refused access to the dataset {repo} ({exc.code}) with {who}. "
                f"If the dataset is gated, accept its terms at {page} with the account of the token; "
                "if it is private, save a HUGGINGFACE token that can read it; then deploy again"
            )
        if exc.code == 404:
            what = f"file {path} at revision {revision}" if path else f"revision {revision}"
            fail(f"the Hub has no {what} of the dataset {repo} (404; see {page})")
        if exc.code in (408, 429) or exc.code >= 500:
            print(f"traingate: the Hub answered {exc.code} for {repo}: {detail}", file=sys.stderr)
            sys.exit(1)
        fail(f"the Hub answered {exc.code} for the dataset {repo}: {detail}")


def quoted(text, safe="/"):
    return urllib.parse.quote(text, safe=safe)


def download(name, size_hint):
    target = os.path.join(folder, "hub", *name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    address = f"{endpoint}/datasets/{repo}/resolve/{quoted(revision, '')}/{quoted(name)}"
    total = 0
    with get(address) as response, open(target + ".part", "wb") as out:
        for block in iter(lambda: response.read(1 << 20), b""):
            total += len(block)
            if total > limit:
                fail(f"the dataset is larger than the limit of {limit} bytes (TRAINGATE_MAX_DATASET_BYTES)")
            out.write(block)
    os.replace(target + ".part", target)
    print(f"downloaded {name} ({total} bytes)")
    return target


def extension(name):
    lowered = name.lower()
    if lowered.endswith(".ndjson"):
        return "jsonl"
    return lowered.rsplit(".", 1)[-1] if "." in lowered else ""


if path:
    names = [(path, None)]
else:
    with get(f"{endpoint}/api/datasets/{repo}/revision/{quoted(revision, '')}?blobs=true") as response:
        info = json.loads(response.read().decode("utf-8"))
    files = [
        (s["rfilename"], s.get("size"))
        for s in info.get("siblings") or []
        if extension(s.get("rfilename", "")) in FORMATS and s["rfilename"].rsplit("/", 1)[-1] not in METADATA
    ]
    train = [f for f in files if re.search(r"(^|[/_.-])train([/_.-]|$)", f[0].lower())]
    files = train or files
    fmt = next((x for x in FORMATS if any(extension(n) == x for n, _ in files)), None)
    if fmt is None:
        fail(f"the dataset {repo} has no JSON, JSONL, Parquet or CSV file at revision {revision} (see {page})")
    names = sorted(f for f in files if extension(f[0]) == fmt)
    known = sum(size or 0 for _, size in names)
    if known > limit:
        fail(f"the dataset is larger than the limit of {limit} bytes (TRAINGATE_MAX_DATASET_BYTES)")
    print(f"dataset {repo}@{revision}: {', '.join(n for n, _ in names)}")

local = [download(name, size) for name, size in names]
result = os.path.join(folder, "dataset.jsonl")
if len(local) == 1 and extension(local[0]) in ("json", "jsonl"):
    result = os.path.join(folder, "dataset." + extension(local[0]))
    shutil.move(local[0], result)
else:
    # train.py reads one JSON or JSONL file: rows of every file go into one JSONL file.
    def rows(file):
        kind = extension(file)
        if kind == "parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                fail("reading a Parquet dataset needs pyarrow, which the installed packages should provide")
            for batch in pq.ParquetFile(file).iter_batches():
                yield from batch.to_pylist()
        elif kind == "csv":
            with open(file, newline="", encoding="utf-8-sig") as handle:
                yield from csv.DictReader(handle)
        else:
            with open(file, encoding="utf-8-sig") as handle:
                text = handle.read()
            try:
                data = json.loads(text)
            except ValueError:
                data = [json.loads(line) for line in text.splitlines() if line.strip()]
            if isinstance(data, dict):
                data = next((data[k] for k in ("data", "rows", "train", "examples") if isinstance(data.get(k), list)), [data])
            yield from data

    count = 0
    with open(result + ".part", "w", encoding="utf-8") as out:
        try:
            for file in local:
                for row in rows(file):
                    out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                    count += 1
        except (ValueError, UnicodeDecodeError, csv.Error) as exc:
            fail(f"a file of the dataset {repo} could not be read: {exc}")
    os.replace(result + ".part", result)
    print(f"converted {len(local)} file(s) to {count} JSONL rows")
if os.path.getsize(result) == 0:
    fail(f"the dataset {repo} is empty")
with open(os.path.join(folder, ".result"), "w", encoding="utf-8") as handle:
    handle.write(result)
PY
}

download_dataset() {
  local path extension data="$WORKSPACE/data" rc=0
  mkdir -p -- "$data"
  if [[ $DATASET_URL == hf://* ]]; then
    log "downloading the dataset $DATASET_URL from the Hub"
    rm -rf -- "$data/hub" "$data/.result" "$data/.error"
    with_retries 5 "dataset download" fetch_hub_dataset "$DATASET_URL" "$data" || rc=$?
    if ((rc != 0)); then
      if [[ -s $data/.error ]]; then
        FAIL_REASON=$(<"$data/.error")
        FAIL_NO_TAIL=1 # the reason says what to do; the log adds nothing
      else
        FAIL_REASON="the dataset could not be downloaded from $DATASET_URL"
      fi
      return 1
    fi
    DATASET_PATH=$(<"$data/.result")
    rm -rf -- "$data/hub" "$data/.result"
    log "dataset: $(wc -c <"$DATASET_PATH") bytes"
    return 0
  fi
  path=$(redact_url "$DATASET_URL")
  case ${path,,} in
    *.jsonl | *.ndjson) extension=jsonl ;;
    *.json) extension=json ;;
    *) extension=data ;;
  esac
  DATASET_PATH="$data/dataset.$extension"
  log "downloading the dataset from $path"
  if ! with_retries 5 "dataset download" fetch_dataset "$DATASET_URL" "$DATASET_PATH.part"; then
    FAIL_REASON="the dataset could not be downloaded from $path"
    return 1
  fi
  mv -f -- "$DATASET_PATH.part" "$DATASET_PATH"
  log "dataset: $(wc -c <"$DATASET_PATH") bytes"
}

# train_command: the trainer's command line in TRAIN_CMD. One process per GPU (torchrun, in its
# module form so that it runs on the same interpreter) for LORA and FULL on a multi-GPU pod.
train_command() {
  TRAIN_CMD=("$PYTHON" "$TRAINGATE_HOME/train.py")
  if ((GPU_COUNT <= 1)); then
    return 0
  fi
  if [[ $METHOD == QLORA || $NEEDS_BITSANDBYTES == true ]]; then
    log "$GPU_COUNT GPUs, but $METHOD with $QUANTIZATION quantization trains in one process (bitsandbytes quantized models are not data-parallel here)"
    return 0
  fi
  log "$GPU_COUNT GPUs: one training process per GPU (torch.distributed.run)"
  TRAIN_CMD=("$PYTHON" -m torch.distributed.run --standalone "--nproc_per_node=$GPU_COUNT" "$TRAINGATE_HOME/train.py")
}

# run_training: the trainer in the background, so that a SIGTERM/SIGINT to this script (RunPod
# stopping the pod, spot preemption) reaches it at once: it saves a checkpoint and exits 3.
run_training() {
  local rc result="" tee_fd tee_pid
  rm -f -- "$STOP_MARKER"
  train_command
  log "running: ${TRAIN_CMD[*]}"
  exec {tee_fd}> >(tee -a "$STEP_LOG")
  tee_pid=$!
  # The RunPod key only ends the pod; the training code (and whatever it loads) never sees it.
  # HF_TOKEN stays: transformers reads it for gated models.
  env -u RUNPOD_API_KEY TRAINGATE_DATASET_PATH="$DATASET_PATH" TRAINGATE_WORKSPACE="$WORKSPACE" \
    PYTHONUNBUFFERED=1 "${TRAIN_CMD[@]}" >&"$tee_fd" 2>&1 &
  TRAIN_PID=$!
  while :; do
    WAIT_INTERRUPTED=0
    rc=0
    wait "$TRAIN_PID" || rc=$?
    # 127: already reaped (a signal came right after it ended); the earlier status stands.
    if [[ -z $result || $rc != 127 ]]; then
      result=$rc
    fi
    ((WAIT_INTERRUPTED)) || break # a trapped signal ends `wait` early: wait again for the trainer
  done
  TRAIN_PID=""
  TRAIN_RC=$result
  exec {tee_fd}>&-
  wait "$tee_pid" 2>/dev/null || true
  log "train.py exited with $TRAIN_RC"
  if ((${#TRAIN_CMD[@]} > 2 && TRAIN_RC != 0 && TRAIN_RC != EXIT_STOPPED)) && [[ -s $STOP_MARKER ]]; then
    # torchrun turns its workers' exit 3 into a failure of its own; rank 0's stop marker (removed
    # before the launch) says that they stopped early with a checkpoint.
    log "torchrun exited with $TRAIN_RC, but the trainer wrote its stop marker: stopped early"
    TRAIN_RC=$EXIT_STOPPED
  fi
}

push_to_hub() {
  env -u RUNPOD_API_KEY -u JOB_TOKEN "$PYTHON" "$TRAINGATE_HOME/hub_push.py" "--repo-id=$HUB_REPO_ID" \
    "--folder=$OUTPUT_DIR" "--private=$HUB_PRIVATE" "--commit-message=TrainGate job $JOB_ID" \
    "--result-file=$PRIVATE_DIR/pushed-repo"
}

upload_to_gateway() {
  # The job token reaches the uploader in its environment only (never on its command line).
  env -u RUNPOD_API_KEY -u HF_TOKEN "$PYTHON" "$TRAINGATE_HOME/artifact_upload.py" \
    "--url=${METRICS_API_URL%/}/$JOB_ID/artifact" "--folder=$OUTPUT_DIR" \
    "--tar=$WORKSPACE/.traingate/output-$JOB_ID.tar" "--uri=gateway://$JOB_ID" \
    "--result-file=$PRIVATE_DIR/gateway-artifact" "--chunk-bytes=$ARTIFACT_CHUNK_BYTES" \
    "--attempts=$HTTP_ATTEMPTS" "--retry-base=$RETRY_BASE" "--timeout=$((HTTP_TIMEOUT * 4))" || {
    local rc=$?
    ((rc == 2)) && return "$EXIT_PERMANENT"
    return "$rc"
  }
}

# deliver: push the output where the config says; sets ARTIFACT_URI and DELIVERY_ERROR.
deliver() {
  ARTIFACT_URI=""
  DELIVERY_ERROR=""
  if [[ ! -d $OUTPUT_DIR ]] || [[ -z $(ls -A -- "$OUTPUT_DIR") ]]; then
    return 0
  fi
  local gateway_uri="" gateway_error=""
  if [[ $OUTPUT_GATEWAY == true ]]; then
    # The uploader resumes by itself (HEAD, then the rest); a second run only helps after a crash.
    if phase upload with_retries 2 "gateway upload" upload_to_gateway && [[ -s $PRIVATE_DIR/gateway-artifact ]]; then
      gateway_uri=$(head -n 1 "$PRIVATE_DIR/gateway-artifact")
    else
      gateway_error="the upload to the gateway failed"$'\n'"$(tail_of "$STEP_LOG")"
    fi
  fi
  if [[ -n $HUB_REPO_ID ]]; then
    local rc=0
    phase push with_retries 2 "Hub upload" push_to_hub || rc=$?
    if ((rc == 0)) && [[ -s $PRIVATE_DIR/pushed-repo ]]; then
      ARTIFACT_URI="hf://$(head -n 1 "$PRIVATE_DIR/pushed-repo")"
    else
      DELIVERY_ERROR="the upload to the Hugging Face Hub repo $HUB_REPO_ID failed"$'\n'"$(tail_of "$STEP_LOG")"
      if [[ -z $NETWORK_VOLUME_ID && -z $gateway_uri ]]; then
        # The result exists only on this pod's disk now: stop instead of terminate to keep it.
        END_ACTION=STOP
      fi
    fi
  fi
  if [[ -z $ARTIFACT_URI ]]; then
    ARTIFACT_URI=$gateway_uri
  fi
  if [[ -n $gateway_error ]]; then
    DELIVERY_ERROR=${DELIVERY_ERROR:+$DELIVERY_ERROR; }$gateway_error
    if [[ -z $ARTIFACT_URI && -z $NETWORK_VOLUME_ID ]]; then
      # The result exists only on this pod's disk now: stop instead of terminate to keep it.
      END_ACTION=STOP
    fi
  fi
  if [[ -z $ARTIFACT_URI ]]; then
    ARTIFACT_URI=$(kept_uri)
  fi
}

# kept_uri: where output/ stays when it is not pushed anywhere.
kept_uri() {
  if [[ -n $NETWORK_VOLUME_ID ]]; then
    printf 'runpod-volume://%s/output' "$NETWORK_VOLUME_ID"
  else
    printf 'pod://%s/workspace/output' "${RUNPOD_POD_ID:-local}"
  fi
}

stop_reason() {
  "$PYTHON" - "$STOP_MARKER" <<'PY' 2>/dev/null || printf 'stopped early on request'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    marker = json.load(handle)
print(f"stopped early at step {marker.get('step')}: {marker.get('reason')}", end="")
PY
}

# stop_cause: the stop marker's "cause" (budget_deadline: train.py stopped by itself at BUDGET_DEADLINE), or
# nothing when someone else asked for the stop or the marker says no such thing.
stop_cause() {
  "$PYTHON" - "$STOP_MARKER" <<'PY' 2>/dev/null || true
import json
import re
import sys

with open(sys.argv[1], encoding="utf-8") as handle:
    cause = json.load(handle).get("cause")
if isinstance(cause, str) and re.fullmatch(r"[a-z_]{1,40}", cause):
    print(cause, end="")
PY
}

# --- main --------------------------------------------------------------------------------------

# pick_python: PYTHON, the first interpreter that imports torch. RunPod's current images link
# python (and pip) to one Python and keep python3 as the system one, without torch.
pick_python() {
  local candidate found
  local candidates=(python python3 python3.13 python3.12 python3.11 python3.10 python3.9)
  if [[ -n ${TRAINGATE_PYTHON:-} ]]; then
    candidates=("$TRAINGATE_PYTHON" "${candidates[@]}")
  fi
  for candidate in "${candidates[@]}"; do
    found=$(command -v -- "$candidate" 2>/dev/null) || continue
    if "$found" -c 'import torch' >/dev/null 2>&1; then
      PYTHON=$found
      log "python: $PYTHON (imports torch)"
      return 0
    fi
  done
  PYTHON=${TRAINGATE_PYTHON:-python3}
  log "no interpreter on PATH imports torch; using $PYTHON"
}

init() {
  TRAINGATE_HOME=${TRAINGATE_HOME:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]:-$0}")" && pwd)}
  WORKSPACE=${TRAINGATE_WORKSPACE:-/workspace}
  pick_python
  if [[ -n ${TRAINGATE_PIP:-} ]]; then
    PIP=("$TRAINGATE_PIP")
  else
    PIP=("$PYTHON" -m pip) # the packages go to the interpreter that trains
  fi
  RUNPOD_REST_URL=${RUNPOD_REST_URL:-https://rest.runpod.io/v1}
  MAX_DATASET_BYTES=${TRAINGATE_MAX_DATASET_BYTES:-2147483648}
  DOWNLOAD_TIMEOUT=${TRAINGATE_DOWNLOAD_TIMEOUT:-3600}
  RETRY_BASE=${TRAINGATE_RETRY_BASE_SECONDS:-2}
  HTTP_ATTEMPTS=${TRAINGATE_HTTP_ATTEMPTS:-8}
  END_ATTEMPTS=${TRAINGATE_END_ATTEMPTS:-10}
  HTTP_TIMEOUT=${TRAINGATE_HTTP_TIMEOUT:-30}
  ARTIFACT_CHUNK_BYTES=${TRAINGATE_ARTIFACT_CHUNK_BYTES:-8388608}
  OUTPUT_GATEWAY=false
  OUTPUT_DIR="$WORKSPACE/output"
  STOP_MARKER="$WORKSPACE/.traingate-stopped"
  # Header files with tokens and curl's scratch files live here, readable by this user only.
  PRIVATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/traingate.XXXXXXXX")
  chmod 700 "$PRIVATE_DIR"
  # Caches on the volume (/workspace), not the small container disk: model downloads, compiled kernels.
  export HF_HOME=${HF_HOME:-$WORKSPACE/.cache/huggingface}
  export TORCH_HOME=${TORCH_HOME:-$WORKSPACE/.cache/torch}
  export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-$WORKSPACE/.cache/triton}
  GPU_COUNT=${TRAINGATE_GPU_COUNT:-}
  if [[ -z $GPU_COUNT ]] && command -v nvidia-smi >/dev/null 2>&1; then
    GPU_COUNT=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
  fi
  if [[ ! $GPU_COUNT =~ ^[0-9]+$ ]] || ((GPU_COUNT < 1)); then
    GPU_COUNT=1
  fi
  LOG_DIR="$WORKSPACE/.traingate/logs"
  if ! mkdir -p -- "$LOG_DIR"; then
    LOG_DIR="$PRIVATE_DIR/logs"
    mkdir -p -- "$LOG_DIR"
  fi

  STATUS_URL=""
  DONE_MARKER=""
  if [[ -n ${METRICS_API_URL:-} && -n ${JOB_ID:-} && -n ${JOB_TOKEN:-} ]]; then
    if [[ ! $JOB_ID =~ ^[A-Za-z0-9_.-]+$ ]]; then
      FAIL_REASON="JOB_ID has unexpected characters"
      return 2
    fi
    STATUS_URL="${METRICS_API_URL%/}/$JOB_ID/status"
    DONE_MARKER="$WORKSPACE/.traingate/done-$JOB_ID"
    printf 'Authorization: Bearer %s\n' "${JOB_TOKEN//[$'\r\n']/}" >"$PRIVATE_DIR/job.header"
  else
    FAIL_REASON="METRICS_API_URL, JOB_ID and JOB_TOKEN must all be set"
    return 2
  fi
}

main() {
  trap on_exit EXIT
  trap 'on_signal TERM 15' TERM
  trap 'on_signal INT 2' INT
  init
  STEP_LOG="$LOG_DIR/start.log"
  : >"$STEP_LOG"

  if [[ -n $DONE_MARKER && -f $DONE_MARKER ]]; then
    # A restarted container after the job already finished: only the pod ending is left to do.
    # The action decided then (a failed Hub upload turns TERMINATE into STOP) is reused as is.
    FINALIZED=1
    END_ACTION=$(sed -n 2p "$DONE_MARKER")
    [[ $END_ACTION == STOP ]] || END_ACTION=TERMINATE
    log "job $JOB_ID already finished ($(head -n 1 "$DONE_MARKER")); ending the pod"
    end_pod
    exit $?
  fi

  if ! report_status running "bootstrap started on pod ${RUNPOD_POD_ID:-local} (deployment ${TRAINGATE_DEPLOYMENT_ID:-unknown})"; then
    if [[ $HTTP_CODE == 401 || $HTTP_CODE == 409 ]]; then
      # The gateway does not know this job or has closed it (cancelled while the pod started):
      # nobody would accept the result, so do not spend GPU time on it.
      FINALIZED=1
      END_ACTION=TERMINATE
      log "the gateway refused the job ($HTTP_CODE); ending the pod without training"
      end_pod
      exit $?
    fi
    log "could not report running; carrying on"
  fi
  phase config read_config
  if ((STOP_ASKED)); then
    finalize stopped "the gateway asked to stop before training started"
    exit $?
  fi
  phase install install_deps
  phase download download_dataset
  phase train run_training

  local message
  if [[ -n $SIGNAL_RECEIVED ]] && ((TRAIN_RC != 0)); then
    # Whoever sent the signal is stopping or ending this pod: report once, quickly, where the
    # checkpoint is, and leave the pod (and the done marker) alone, so that a resumed pod resumes.
    FINALIZED=1
    local kept
    kept=$(kept_uri)
    if ((TRAIN_RC == EXIT_STOPPED)); then
      message="$(stop_reason) (bootstrap received SIG$SIGNAL_RECEIVED)"
      # The partial result goes to the gateway before the pod's disk can go away (a terminated pod's
      # disk is deleted); a SIGKILL at the end of the grace period cuts it, and the gateway keeps
      # nothing of an unfinished upload.
      if [[ $OUTPUT_GATEWAY == true && -d $OUTPUT_DIR && -n $(ls -A -- "$OUTPUT_DIR") ]]; then
        STEP_LOG="$LOG_DIR/upload.log"
        if upload_to_gateway >>"$STEP_LOG" 2>&1 && [[ -s $PRIVATE_DIR/gateway-artifact ]]; then
          kept=$(head -n 1 "$PRIVATE_DIR/gateway-artifact")
        else
          log "the partial result could not be uploaded to the gateway"
        fi
      fi
    else
      message="bootstrap received SIG$SIGNAL_RECEIVED during train; train.py exited with $TRAIN_RC"
    fi
    report_status stopped "$message" "$kept" 1 || log "the stop could not be reported"
    exit $((TRAIN_RC == EXIT_STOPPED ? 0 : TRAIN_RC))
  fi
  case $TRAIN_RC in
    0)
      deliver
      if [[ -n $DELIVERY_ERROR ]]; then
        finalize failed "training completed, but $DELIVERY_ERROR; the result is kept at $ARTIFACT_URI" "$ARTIFACT_URI"
      else
        finalize completed "training completed: $MODEL_NAME ($METHOD)" "$ARTIFACT_URI"
      fi
      ;;
    "$EXIT_STOPPED")
      message=$(stop_reason)
      deliver
      if [[ -n $DELIVERY_ERROR ]]; then
        message+="; $DELIVERY_ERROR"
      fi
      finalize stopped "$message" "$ARTIFACT_URI" "$(stop_cause)"
      ;;
    *)
      STEP=train
      END_ACTION=TERMINATE
      finalize failed "$(failure_message "$TRAIN_RC")"
      ;;
  esac
  exit $?
}

# Run unless sourced (the tests source it for json_string). Piped in or run with bash -c, there
# is no BASH_SOURCE: it runs too, and TRAINGATE_HOME must then name the folder of train.py.
if [[ ${BASH_SOURCE[0]:-$0} == "$0" ]]; then
  main "$@"
fi
