# drawn by experiments/lib/plot.lua; redraw with: gnuplot prediction.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'prediction.png'
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
set title "s-curve config A (seed 1, naive): prediction (decoder output for z_1 in [-1, 1])"
set xlabel "output 0"; set ylabel "output 1"; set size ratio -1
set cblabel "z_1"
plot 'embedding.tsv' using 1:2 with points pt 7 ps 0.4 lc rgb '#bbbbbb' title 'data', \
     'prediction.tsv' using 2:3:1 with points pt 7 ps 1 palette title 'decoded'
unset output
