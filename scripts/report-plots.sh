#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# report-plots.sh DIR: PNG and SVG plots of a report bartoggle-run report
# wrote into DIR, from its survival.dat and ttf.dat (one block per row,
# its title on the first line) and rate.list (label<TAB>progress.jsonl of
# the longest runs). Exit 4 when gnuplot or jq is missing.
set -euo pipefail

usage() {
	echo "usage: $0 REPORT_DIR   (called by bartoggle-run report)" >&2
	exit 2
}
[ $# -eq 1 ] && [ -d "$1" ] || usage
dir=$1
for tool in gnuplot jq; do
	command -v "$tool" >/dev/null || { echo "report-plots: $tool is not installed" >&2; exit 4; }
done

# Toggles per second between consecutive progress lines of the agent. A
# line that is not JSON (a cut-off write) is dropped, not fatal. The toggle
# count is one counter and only grows; a TCG guest's clock was seen to jump
# 9 s ahead for one line and back, so a line whose time is not below the
# next line's is left out rather than drawn as a spike.
: >"$dir/rate.dat"
series=0
while IFS=$'\t' read -r label path; do
	rates=$(jq -nrR '[inputs | fromjson? | select(type == "object" and
			(.type == "progress" or .type == "done") and
			(.elapsed_ms | type) == "number" and (.counts.toggles | type) == "number")]
		| sort_by(.counts.toggles) | . as $all
		| [range(length) | select(. == ($all | length) - 1 or
					  $all[.].elapsed_ms < $all[. + 1].elapsed_ms) | $all[.]]
		| . as $p
		| range(1; length) | select($p[.].elapsed_ms > $p[. - 1].elapsed_ms)
		| [$p[.].elapsed_ms / 1000,
		   ($p[.].counts.toggles - $p[. - 1].counts.toggles) * 1000 /
		   ($p[.].elapsed_ms - $p[. - 1].elapsed_ms)] | @tsv' "$path") || {
		echo "report-plots: $path: cannot read, left out" >&2
		continue
	}
	[ -n "$rates" ] || continue
	[ $series -eq 0 ] || printf '\n\n' >>"$dir/rate.dat"
	printf '"%s"\n%s\n' "$label" "$rates" >>"$dir/rate.dat"
	series=$((series + 1))
done <"$dir/rate.list"

# draw NAME TITLE XLABEL YLABEL SETTINGS: NAME.png and NAME.svg from NAME.dat.
draw() {
	local name=$1 term ext ids
	if ! grep -q '^[0-9]' "$dir/$name.dat" 2>/dev/null; then
		echo "report-plots: $name: nothing to plot" >&2
		return 0
	fi
	# A row keeps its colour from plot to plot: line type = row number.
	ids=$(sed -n 's/^"R\([0-9]*\) .*/\1/p' "$dir/$name.dat" | tr '\n' ' ')
	for term in "pngcairo size 1280,720 font ',10'" "svg size 1280,720 dynamic font ',10'"; do
		ext=${term%%cairo*}
		ext=${ext%% *}
		gnuplot <<-EOF
			set terminal $term
			set output '$dir/$name.$ext.tmp'
			set title "$2" noenhanced
			set xlabel "$3" noenhanced
			set ylabel "$4" noenhanced
			set grid
			set key outside bottom center vertical maxrows 6 noenhanced
			stats '$dir/$name.dat' using 1 nooutput
			$5
			ids = "$ids"
			dash(i) = i % 4 + 1
			plot for [i=0:STATS_blocks-1] '$dir/$name.dat' index i using 1:2 \
				with steps lw 2 lt (words(ids) > i ? int(word(ids, i + 1)) : i + 1) \
				dt dash(i) title columnheader(1)
		EOF
		mv "$dir/$name.$ext.tmp" "$dir/$name.$ext"
	done
	echo "report-plots: $dir/$name.png, $dir/$name.svg" >&2
}

draw survival "Runs alive vs cycles (Kaplan-Meier)" "cycles (log)" "fraction of runs alive" \
	"set logscale x; set xrange [0.7:*]; set yrange [-0.02:1.05]"
draw ttf "Time to first failure (empirical distribution)" \
	"ms from the start of toggling to the VM's failure (log)" \
	"fraction of failed runs" "set logscale x; set yrange [-0.02:1.05]"
draw rate "Toggle rate over time (longest runs)" "seconds into the run" "toggles/s" \
	"set yrange [0:*]"
