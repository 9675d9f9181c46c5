# bench/plot.gp — the plots of a bench/suite.sh run, from the data files
# bench/report.mjs wrote:  gnuplot -e "stem='bench/results/DATE-HOST'" bench/plot.gp
# writes STEM-ingest.svg (events/s by batch size) and STEM-funnel.svg
# (session funnel time by data size); with -e "ext='png'" PNG files instead.
# Missing points are "?" in the data.

if (!exists("stem")) stem = "bench/results/latest"
if (!exists("ext")) ext = "svg"
set datafile missing "?"
if (ext eq "png") {
	set terminal pngcairo size 900,550 font "sans,11" background rgb "white"
} else {
	set terminal svg size 720,440 dynamic font "sans,12" background rgb "white"
}
set grid lc rgb "#dddddd"
set key box opaque
set logscale x 10
set logscale y 10

# only the plots with data (a run with --no-ingest has no ingest points);
# the number of columns is on the data file's "# ncols=" line, the titles
# on its first row
ncols(f) = int(system("sed -n 's/^# ncols=//p' ".f." 2>/dev/null | head -1; true") + 0)
has(f) = ncols(f) > 1 && int(system("grep -v '^#' ".f." | tail -n +2 | grep -c '[0-9]' || true")) > 0
set key autotitle columnheader

f = stem."-ingest.dat"
if (has(f)) {
set output stem."-ingest.".ext
set title "Ingest throughput by batch size (keep-alive connections, loopback)"
set key bottom right
set xlabel "events per request"
set ylabel "events/s accepted"
set format y "%.0s%c"
plot for [i=2:ncols(f)] f using 1:i with linespoints lw 2 pt (2 * i + 1)
}

f = stem."-funnel.dat"
if (has(f)) {
set output stem."-funnel.".ext
set title "Session funnel (4 steps, 1 h window): median time by data size"
set key top left
set xlabel "events"
set ylabel "ms"
set format x "%.0s%c"
set format y "%g"
plot for [i=2:ncols(f)] f using 1:i with linespoints lw 2 pt (2 * i + 1)
}
