# drawn by experiments/lib/plot.lua; redraw with: gnuplot loss.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'loss.png'
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
set title "s-curve config A (seed 1, naive): loss per example"
set xlabel "epoch"; set ylabel "loss (nats or summed squared error)"
set key top right
plot 'history.tsv' using 1:2 with lines lw 2 title 'train', \
     '' using 1:3 with lines lw 2 title 'validation'
unset output
