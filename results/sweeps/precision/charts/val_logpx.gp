# drawn by experiments/lib/plot.lua; redraw with: gnuplot val_logpx.gp

if (!exists("output_file")) output_file = "val_logpx.png"
set output output_file
set terminal pngcairo size 640,480 enhanced font 'DejaVu Sans,10'
set datafile separator tab
set datafile columnheaders
set title "precision: val_logpx per configuration (mean ± sd over seeds; dots: seeds)" noenhanced
set ylabel "val_logpx" noenhanced
set grid ytics
set key outside below
set xrange [-0.6:3.6]
set xtics rotate by -35 left
plot '../configs.tsv' using ($1-1):(column("val_logpx_mean")):(column("val_logpx_sd")):xtic(2) with yerrorbars pt 7 ps 1.2 lw 2 lc rgb '#1f77b4' title 'mean ± sd', \
     '../summary.tsv' using ($3-1+0.15):(column("val_logpx")) with points pt 6 ps 0.6 lc rgb '#ff7f0e' title 'one seed'
unset output
