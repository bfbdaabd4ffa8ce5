#!/usr/bin/env bash
# TrainGate pod bootstrap: install, download, train, deliver, report, then end this pod.
#
# It runs as the container's command on a RunPod pod, from the folder that also holds train.py,
# metrics_reporter.py and hub_push.py (TRAINGATE_HOME, by default this file's folder). Every input
# arrives in environment variables rendered by the gateway; no value is ever evaluated as shell
# code, only passed as a quoted argument or read by Python from the environment.
#
# A RunPod container that exits is restarted and keeps billing (shared/runpod-api.md section 3),
# so this script always ends by terminating (or, with output.onComplete STOP, stopping) its own
# pod through RunPod's REST API with the pod-scoped RUNPOD_API_KEY, also when anything fails:
# the EXIT trap reports "failed" with the tail of the failing step's log and ends the pod. It
# never sleeps to keep the pod alive. README.md beside this file lists the environment contract.
set -euo pipefail

# Pinned Python packages, a set used together publicly on torch 2.6-2.8 (the torch that the runpod/pytorch
# image ships is kept: a constraints file stops pip from replacing it).
readonly PIN_TRANSFORMERS=4.57.1
readonly PIN_PEFT=0.17.1
readonly PIN_ACCELERATE=1.11.0
readonly PIN_DATASETS=4.2.0
readonly PIN_BITSANDBYTES=0.48.2

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

# report_status STATUS MESSAGE [ARTIFACT_URI] [ATTEMPTS]: POST the job status to the gateway.
report_status() {
  local status=$1 message=$2 artifact=${3:-} attempts=${4:-$HTTP_ATTEMPTS} body
  if [[ -z ${STATUS_URL:-} ]]; then
    log "cannot report status '$status': METRICS_API_URL, JOB_ID or JOB_TOKEN is missing"
    return 1
  fi
  body="{\"status\":$(json_string "$status"),\"message\":$(json_string "$message")"
  if [[ -n $artifact ]]; then
    body+=",\"artifact_uri\":$(json_string "$artifact")"
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

# finalize STATUS MESSAGE [ARTIFACT_URI]: report the outcome once, remember it, end the pod.
finalize() {
  FINALIZED=1
  report_status "$1" "$2" "${3:-}" || log "the final status could not be delivered"
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
  if [[ -n $STEP_LOG ]]; then
    tail=$(tail_of "$STEP_LOG")
    if [[ -n $tail ]]; then
      message+=$'\n'"--- last output of $STEP ---"$'\n'"$tail"
    fi
  fi
  printf '%s' "$message"
}

on_signal() {
  SIGNAL_RECEIVED=$1
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
  log "config: model $MODEL_NAME, method $METHOD, quantization $QUANTIZATION, then $END_ACTION"
  if [[ -n $HUB_REPO_ID && -z ${HF_TOKEN:-} ]]; then
    FAIL_REASON="output.hubRepoId is set but HF_TOKEN is missing (save a HUGGINGFACE provider secret)"
    return 2
  fi
}

pip_install() {
  env -u RUNPOD_API_KEY -u JOB_TOKEN -u HF_TOKEN "$PIP" install --no-cache-dir --disable-pip-version-check \
    --progress-bar off --retries 5 --timeout 60 -c "$PRIVATE_DIR/constraints.txt" "$@"
}

install_deps() {
  local packages=("transformers==$PIN_TRANSFORMERS" "peft==$PIN_PEFT" "accelerate==$PIN_ACCELERATE"
    "datasets==$PIN_DATASETS")
  if [[ $NEEDS_BITSANDBYTES == true ]]; then
    packages+=("bitsandbytes==$PIN_BITSANDBYTES")
  fi
  local torch_version=""
  # Keep the image's CUDA build of torch: a pin that needs another torch fails loudly instead.
  torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null) || torch_version=""
  if [[ -n $torch_version ]]; then
    printf 'torch==%s\n' "$torch_version" >"$PRIVATE_DIR/constraints.txt"
    log "keeping torch $torch_version"
  else
    : >"$PRIVATE_DIR/constraints.txt"
  fi
  if ! with_retries 3 "pip install" pip_install "${packages[@]}"; then
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

download_dataset() {
  local path extension
  path=$(redact_url "$DATASET_URL")
  case ${path,,} in
    *.jsonl | *.ndjson) extension=jsonl ;;
    *.json) extension=json ;;
    *) extension=data ;;
  esac
  mkdir -p -- "$WORKSPACE/data"
  DATASET_PATH="$WORKSPACE/data/dataset.$extension"
  log "downloading the dataset from $path"
  if ! with_retries 5 "dataset download" fetch_dataset "$DATASET_URL" "$DATASET_PATH.part"; then
    FAIL_REASON="the dataset could not be downloaded from $path"
    return 1
  fi
  mv -f -- "$DATASET_PATH.part" "$DATASET_PATH"
  log "dataset: $(wc -c <"$DATASET_PATH") bytes"
}

run_training() {
  rm -f -- "$STOP_MARKER"
  TRAIN_RC=0
  # The RunPod key only ends the pod; the training code (and whatever it loads) never sees it.
  env -u RUNPOD_API_KEY TRAINGATE_DATASET_PATH="$DATASET_PATH" TRAINGATE_WORKSPACE="$WORKSPACE" \
    PYTHONUNBUFFERED=1 "$PYTHON" "$TRAINGATE_HOME/train.py" 2>&1 | tee -a "$STEP_LOG" || TRAIN_RC=$?
  log "train.py exited with $TRAIN_RC"
}

push_to_hub() {
  env -u RUNPOD_API_KEY -u JOB_TOKEN "$PYTHON" "$TRAINGATE_HOME/hub_push.py" "--repo-id=$HUB_REPO_ID" \
    "--folder=$OUTPUT_DIR" "--private=$HUB_PRIVATE" "--commit-message=TrainGate job $JOB_ID" \
    "--result-file=$PRIVATE_DIR/pushed-repo"
}

# deliver: push the output where the config says; sets ARTIFACT_URI and DELIVERY_ERROR.
deliver() {
  ARTIFACT_URI=""
  DELIVERY_ERROR=""
  if [[ ! -d $OUTPUT_DIR ]] || [[ -z $(ls -A -- "$OUTPUT_DIR") ]]; then
    return 0
  fi
  if [[ -n $HUB_REPO_ID ]]; then
    local rc=0
    phase push with_retries 2 "Hub upload" push_to_hub || rc=$?
    if ((rc == 0)) && [[ -s $PRIVATE_DIR/pushed-repo ]]; then
      ARTIFACT_URI="hf://$(head -n 1 "$PRIVATE_DIR/pushed-repo")"
    else
      DELIVERY_ERROR="the upload to the Hugging Face Hub repo $HUB_REPO_ID failed"$'\n'"$(tail_of "$STEP_LOG")"
      if [[ -z $NETWORK_VOLUME_ID ]]; then
        # The result exists only on this pod's disk now: stop instead of terminate to keep it.
        END_ACTION=STOP
      fi
    fi
  fi
  if [[ -z $ARTIFACT_URI ]]; then
    if [[ -n $NETWORK_VOLUME_ID ]]; then
      ARTIFACT_URI="runpod-volume://$NETWORK_VOLUME_ID/output"
    else
      ARTIFACT_URI="pod://${RUNPOD_POD_ID:-local}/workspace/output"
    fi
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

# --- main --------------------------------------------------------------------------------------

init() {
  TRAINGATE_HOME=${TRAINGATE_HOME:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]:-$0}")" && pwd)}
  WORKSPACE=${TRAINGATE_WORKSPACE:-/workspace}
  PYTHON=${TRAINGATE_PYTHON:-python3}
  PIP=${TRAINGATE_PIP:-pip}
  RUNPOD_REST_URL=${RUNPOD_REST_URL:-https://rest.runpod.io/v1}
  MAX_DATASET_BYTES=${TRAINGATE_MAX_DATASET_BYTES:-2147483648}
  DOWNLOAD_TIMEOUT=${TRAINGATE_DOWNLOAD_TIMEOUT:-3600}
  RETRY_BASE=${TRAINGATE_RETRY_BASE_SECONDS:-2}
  HTTP_ATTEMPTS=${TRAINGATE_HTTP_ATTEMPTS:-8}
  END_ATTEMPTS=${TRAINGATE_END_ATTEMPTS:-10}
  HTTP_TIMEOUT=${TRAINGATE_HTTP_TIMEOUT:-30}
  OUTPUT_DIR="$WORKSPACE/output"
  STOP_MARKER="$WORKSPACE/.traingate-stopped"
  # Header files with tokens and curl's scratch files live here, readable by this user only.
  PRIVATE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/traingate.XXXXXXXX")
  chmod 700 "$PRIVATE_DIR"
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
      finalize stopped "$message" "$ARTIFACT_URI"
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
