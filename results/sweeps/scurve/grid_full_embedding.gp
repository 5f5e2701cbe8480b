# drawn by experiments/lib/plot.lua; redraw with: gnuplot grid_full_embedding.gp

if (!exists("output_file")) output_file = "grid_full_embedding.png"
set output output_file
set terminal pngcairo size 1200,940 enhanced font 'DejaVu Sans,9'
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
unset colorbox
set size ratio -1
unset xtics; unset ytics
set multiplot layout 3,4 title "s-curve sweep: encoder mean of z_1 over the unit square, each config at its median seed by |Spearman|"
set title "A (seed 3, |rho| 0.58)"
set xrange [0:1]; set yrange [0:1]
plot 'median/A/full_embedding.tsv' using 1:2:3 with image notitle, 'median/A/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "B (seed 8, |rho| 0.53)"
set xrange [0:1]; set yrange [0:1]
plot 'median/B/full_embedding.tsv' using 1:2:3 with image notitle, 'median/B/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "C (seed 9, |rho| 0.55)"
set xrange [0:1]; set yrange [0:1]
plot 'median/C/full_embedding.tsv' using 1:2:3 with image notitle, 'median/C/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "D (seed 7, |rho| 0.51)"
set xrange [0:1]; set yrange [0:1]
plot 'median/D/full_embedding.tsv' using 1:2:3 with image notitle, 'median/D/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "E (seed 0, |rho| 0.30)"
set xrange [0:1]; set yrange [0:1]
plot 'median/E/full_embedding.tsv' using 1:2:3 with image notitle, 'median/E/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "F (seed 9, |rho| 0.40)"
set xrange [0:1]; set yrange [0:1]
plot 'median/F/full_embedding.tsv' using 1:2:3 with image notitle, 'median/F/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "G (seed 4, |rho| 0.63)"
set xrange [0:1]; set yrange [0:1]
plot 'median/G/full_embedding.tsv' using 1:2:3 with image notitle, 'median/G/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "H (seed 8, |rho| 0.34)"
set xrange [0:1]; set yrange [0:1]
plot 'median/H/full_embedding.tsv' using 1:2:3 with image notitle, 'median/H/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "I (seed 8, |rho| 0.42)"
set xrange [0:1]; set yrange [0:1]
plot 'median/I/full_embedding.tsv' using 1:2:3 with image notitle, 'median/I/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "A+warmup (seed 9, |rho| 0.47)"
set xrange [0:1]; set yrange [0:1]
plot 'median/A+warmup/full_embedding.tsv' using 1:2:3 with image notitle, 'median/A+warmup/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "A+freebits (seed 2, |rho| 0.74)"
set xrange [0:1]; set yrange [0:1]
plot 'median/A+freebits/full_embedding.tsv' using 1:2:3 with image notitle, 'median/A+freebits/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
set title "A+cbern (seed 6, |rho| 0.17)"
set xrange [0:1]; set yrange [0:1]
plot 'median/A+cbern/full_embedding.tsv' using 1:2:3 with image notitle, 'median/A+cbern/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle
unset multiplot
unset output
