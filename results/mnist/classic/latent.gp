# drawn by experiments/lib/plot.lua; redraw with: gnuplot latent.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'latent.png'
set datafile separator tab
set datafile columnheaders
set title "MNIST classic (10 epochs, seed 1, avx2): test set in latent space (encoder means, 20-D, by PCA)"
set xlabel "principal component 1 (8% of variance)"; set ylabel "principal component 2 (7% of variance)"
set palette maxcolors 10
set palette defined (0 '#1f77b4', 1 '#ff7f0e', 2 '#2ca02c', 3 '#d62728', 4 '#9467bd', 5 '#8c564b', 6 '#e377c2', 7 '#7f7f7f', 8 '#bcbd22', 9 '#17becf')
set cbrange [-0.5:9.5]; set cbtics 0,1,9; set cblabel "digit"
plot 'latent.tsv' using 1:2:3 with points pt 7 ps 0.3 palette notitle
unset output
