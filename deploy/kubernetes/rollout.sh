#!/usr/bin/env bash
# Roll out an overlay with the schema migration first:
#
#   deploy/kubernetes/rollout.sh deploy/kubernetes/overlays/production [TIMEOUT]
#
# 1. render the overlay once (kubectl's built-in kustomize), so every step applies the
#    same objects;
# 2. delete the previous migration Job (a Job's pod template cannot be changed, and
#    the new one runs the new image);
# 3. apply everything that is neither the gateway's nor LiteLLM's: the namespace, the
#    service account, the migration Job and its network policy (which carries no
#    component label, so that only the Job is deleted in 2 and waited for in 4);
# 4. wait until the Job completed: on failure or timeout stop here, exit non-zero, and
#    the running pods keep serving the previous release on the unchanged rollout;
# 5. apply the rest (Deployments, Services, PDBs, HPAs, ServiceMonitor, policies),
#    which starts the rolling update.
#
# KUBECTL names another kubectl (e.g. "kubectl --context prod").
set -euo pipefail

overlay=${1:?usage: rollout.sh OVERLAY_DIR [TIMEOUT, default 11m]}
timeout=${2:-11m}
read -r -a kubectl <<<"${KUBECTL:-kubectl}"

rendered=$(mktemp)
trap 'rm -f "$rendered"' EXIT
"${kubectl[@]}" kustomize "$overlay" >"$rendered"

component=app.kubernetes.io/component
"${kubectl[@]}" delete -f "$rendered" -l "$component=migrate" --ignore-not-found
"${kubectl[@]}" apply -f "$rendered" -l "$component notin (gateway,litellm)"
if ! "${kubectl[@]}" wait -f "$rendered" -l "$component=migrate" --for=condition=complete \
    --timeout="$timeout"; then
    echo "rollout.sh: the migration Job did not complete; nothing else was applied." >&2
    echo "rollout.sh: its logs: kubectl logs job/tollway-migrate in the overlay's namespace" >&2
    exit 1
fi
"${kubectl[@]}" apply -f "$rendered" -l "$component!=migrate"
