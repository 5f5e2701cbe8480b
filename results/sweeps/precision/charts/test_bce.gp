# drawn by experiments/lib/plot.lua; redraw with: gnuplot test_bce.gp

if (!exists("output_file")) output_file = "test_bce.png"
set output output_file
set terminal pngcairo size 640,480 enhanced font 'DejaVu Sans,10'
set datafile separator tab
set datafile columnheaders
set title "precision: test_bce per configuration (mean ± sd over seeds; dots: seeds)" noenhanced
set ylabel "test_bce" noenhanced
set grid ytics
set key outside below
set xrange [-0.6:3.6]
set xtics rotate by -35 left
plot '../configs.tsv' using ($1-1):(column("test_bce_mean")):(column("test_bce_sd")):xtic(2) with yerrorbars pt 7 ps 1.2 lw 2 lc rgb '#1f77b4' title 'mean ± sd', \
     '../summary.tsv' using ($3-1+0.15):(column("test_bce")) with points pt 6 ps 0.6 lc rgb '#ff7f0e' title 'one seed'
unset output
