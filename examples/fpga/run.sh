#!/usr/bin/env bash
# Simulate and synthesize the example design.
#   ./run.sh sim     Icarus Verilog: the self-checking testbench (prints PASS/FAIL)
#   ./run.sh synth   Yosys: iCE40 and Xilinx 7-series synthesis statistics
#   ./run.sh         both
# Needs iverilog (apt-get install iverilog) for sim; yosys on PATH or pyosys
# (pip install pyosys) for synth.  Writes its outputs into the current directory
# when run elsewhere with DLGN_EXAMPLE_OUT=DIR.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="${DLGN_EXAMPLE_OUT:-$HERE}"
mkdir -p "$OUT"
what="${1:-all}"

sim() {
  cp "$HERE"/model_in.hex "$HERE"/model_expect.hex "$OUT"/ 2>/dev/null || true
  (cd "$OUT" && iverilog -g2012 -o model.vvp -s dlgn_model_tb "$HERE/model.v" "$HERE/model_tb.v" \
     && vvp -n model.vvp | tee sim.log)
  grep -q '^PASS' "$OUT/sim.log"
}

synth() {
  for target in ice40 xc7; do
    script="$HERE/synth_$target.ys"
    if command -v yosys >/dev/null; then
      (cd "$OUT" && yosys -q -l "synth_$target.log" -p "read_verilog -sv $HERE/model.v" -s "$script")
    else
      (cd "$OUT" && python3 - "$HERE/model.v" "$script" "synth_$target.log" >/dev/null <<'PY'
import sys
from pyosys import libyosys as ys
d = ys.Design()
ys.run_pass(f"tee -q -o {sys.argv[3]} read_verilog -sv {sys.argv[1]}", d)
ys.run_pass(f"tee -q -a {sys.argv[3]} script {sys.argv[2]}", d)
PY

      )
    fi
    echo "== $target (cells on the longest register-to-register path: Longest ... length) =="
    grep -E "^ +[0-9]+ +[A-Z$]|cells|Longest" "$OUT/stat_$target.txt" || cat "$OUT/stat_$target.txt"
  done
}

case "$what" in
  sim) sim ;;
  synth) synth ;;
  all) sim && synth ;;
  *) echo "usage: $0 [sim|synth|all]" >&2; exit 2 ;;
esac
