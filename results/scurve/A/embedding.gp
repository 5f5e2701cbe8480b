# drawn by experiments/lib/plot.lua; redraw with: gnuplot embedding.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'embedding.png'
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
set title "s-curve config A (seed 1, naive): embedding (data coloured by encoder mean)"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
set cblabel "mean of z_1"
plot 'embedding.tsv' using 1:2:3 with points pt 7 ps 0.8 palette notitle
unset output
