#!/usr/bin/env bash
# make demo: a whole federation on loopback with generated data. A coordinator
# and three participant processes (the bank and two partners) train a credit
# model together; the script prints round progress, then the federated
# model's test AUC next to a model trained centrally on the pooled rows.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/fedscore}
OUT=${OUT:-demo-out}
CUSTOMERS=${CUSTOMERS:-60000}
ROUNDS=${ROUNDS:-10}
rm -rf "$OUT"
mkdir -p "$OUT/logs"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== 1. synthetic wallet customers ($CUSTOMERS, seeded)"
"$BIN" data synth --customers "$CUSTOMERS" --seed 7 --out "$OUT/data"
echo "== 2. split among the bank and two partners (iid, 20% held out as a test set)"
"$BIN" data split --in "$OUT/data/wallet.parquet" --participants 3 --by iid --label default --holdout 0.2 --seed 7 --out "$OUT/nodes" --prefix node

echo "== 3. a CA and startup kits: coordinator, bank, two partners, a data scientist"
"$BIN" provision --out "$OUT/kits" --coordinator 127.0.0.1:7070 \
  --participant bank --participant partner-1 --participant partner-2 --scientist alice --admin ops \
  --service credit --service marketing

echo "== 4. coordinator and three participant processes on loopback, mutual TLS, secure aggregation"
HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:9464}
"$BIN" coordinator --kit "$OUT/kits/coordinator" --listen 127.0.0.1:0 --addr-file "$OUT/coordinator.addr" \
  --store "$OUT/coordinator.db" --http "$HTTP_ADDR" 2> "$OUT/logs/coordinator.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$OUT/coordinator.addr" ] && break; sleep 0.1; done
ADDR=$(cat "$OUT/coordinator.addr")
echo "coordinator at $ADDR (log: $OUT/logs/coordinator.log)"
i=1
for id in bank partner-1 partner-2; do
  "$BIN" participant --kit "$OUT/kits/$id" --coordinator "$ADDR" --data "$OUT/nodes/node-$i.parquet" 2> "$OUT/logs/$id.log" &
  pids+=($!)
  i=$((i + 1))
done

SCI=(--kit "$OUT/kits/alice" --coordinator "$ADDR")
echo "== 5. a data scientist submits a $ROUNDS-round job and watches it"
JOB=$("$BIN" job submit "${SCI[@]}" --name demo-credit --label default --id customer_id \
  --features-from "$OUT/nodes/node-1.parquet" --participants bank,partner-1,partner-2 --rounds "$ROUNDS" \
  --phase-timeout 60s 2>/dev/null)
echo "job $JOB"
"$BIN" job watch "${SCI[@]}" "$JOB"

echo "== 6. federated model on the held-out test set, next to pooled training"
"$BIN" job report "${SCI[@]}" "$JOB" --test "$OUT/nodes/test.parquet" \
  --pooled "$OUT/nodes/node-1.parquet,$OUT/nodes/node-2.parquet,$OUT/nodes/node-3.parquet"
echo "== 7. a credit scorecard (binned WOE, points, reason codes, tiers), trained the same way"
CARD=$("$BIN" job submit "${SCI[@]}" --name demo-scorecard --model scorecard --label default --id customer_id \
  --features-from "$OUT/nodes/node-1.parquet" --participants bank,partner-1,partner-2 --rounds 20 --phase-timeout 60s 2>/dev/null)
"$BIN" job watch "${SCI[@]}" "$CARD" | tail -3
"$BIN" report "${SCI[@]}" "$CARD" --out "$OUT/report" --test "$OUT/nodes/test.parquet"

echo "== 8. scores to the wallet: the admin promotes the scorecard, the participants score their own customers"
ADMIN=(--kit "$OUT/kits/ops" --coordinator "$ADDR")
"$BIN" admin models "${ADMIN[@]}"
"$BIN" admin promote "${ADMIN[@]}" v2
"$BIN" job score "${SCI[@]}" --participants bank,partner-1,partner-2 --id customer_id --watch
echo "-- a participant can also score by hand (dry run: nothing published)"
"$BIN" score --kit "$OUT/kits/bank" --coordinator "$ADDR" --data "$OUT/nodes/node-1.parquet" --id customer_id --dry-run
echo "-- the credit service asks for three customers (and one unknown id)"
"$BIN" scores get --kit "$OUT/kits/credit" --coordinator "$ADDR" C00000001 C00000002 C00000003 C99999999
echo "-- the marketing service exports tier A"
"$BIN" scores export --kit "$OUT/kits/marketing" --coordinator "$ADDR" --addr "$ADDR" --model v2 --tier A --out "$OUT/tier-A.parquet"

echo "== 9. the web console (http://$HTTP_ADDR): a one-time login link for alice"
URL=$("$BIN" console login "${SCI[@]}" 2>/dev/null)
echo "$URL"
if command -v curl >/dev/null; then
  jar=$(mktemp)
  pages=$(curl -s -c "$jar" -b "$jar" -L "$URL" | grep -o 'job-[0-9a-f.-]*' | sort -u | wc -l)
  echo "console jobs page lists $pages jobs"
  rm -f "$jar"
fi

echo "== 10. the coordinator's Prometheus metrics (http://$HTTP_ADDR/metrics)"
if command -v curl >/dev/null; then
  curl -s "http://$HTTP_ADDR/metrics" | grep -E '^fedscore_(training_rounds_total|participants_connected|jobs\{|bytes_received_total)' | head -8 || true
fi
echo "== 11. the audit trail"
"$BIN" audit verify "$OUT/coordinator.db.audit.jsonl"
echo "== done; stopping the federation"
