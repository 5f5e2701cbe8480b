# drawn by experiments/lib/plot.lua; redraw with: gnuplot loss.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'loss.png'
set datafile separator tab
set datafile columnheaders
set title "MNIST adcme (100 epochs, seed 1, avx2): loss per image"
set xlabel "epoch"; set ylabel "-ELBO (nats per image)"
set key top right
set grid
plot 'history.tsv' using 1:2 with lines lw 2 title 'train', \
     '' using 1:5 with linespoints lw 2 pt 7 ps 0.6 title 'test'
unset output
