# drawn by experiments/lib/plot.lua; redraw with: gnuplot grid_prediction.gp

if (!exists("output_file")) output_file = "grid_prediction.png"
set output output_file
set terminal pngcairo size 1200,940 enhanced font 'DejaVu Sans,9'
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
unset colorbox
set size ratio -1
unset xtics; unset ytics
set multiplot layout 3,4 title "s-curve sweep: decoder output along z_1 (grey: data), each config at its median seed by |Spearman|"
set title "A (seed 3, |rho| 0.58)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/A/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/A/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "B (seed 8, |rho| 0.53)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/B/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/B/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "C (seed 9, |rho| 0.55)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/C/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/C/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "D (seed 7, |rho| 0.51)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/D/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/D/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "E (seed 0, |rho| 0.30)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/E/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/E/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "F (seed 9, |rho| 0.40)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/F/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/F/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "G (seed 4, |rho| 0.63)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/G/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/G/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "H (seed 8, |rho| 0.34)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/H/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/H/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "I (seed 8, |rho| 0.42)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/I/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/I/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "A+warmup (seed 9, |rho| 0.47)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/A+warmup/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/A+warmup/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "A+freebits (seed 2, |rho| 0.74)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/A+freebits/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/A+freebits/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
set title "A+cbern (seed 6, |rho| 0.17)"
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
plot 'median/A+cbern/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/A+cbern/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle
unset multiplot
unset output
