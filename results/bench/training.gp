# experiment: bench
# backend: avx2,onednn,openblas,naive
# quick: no
# repeats: 7
# threads: 2
# date: 2026-12-02T01:56:44Z
# git revision: 992296d
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot training.gp

if (!exists("output_file")) output_file = "training.png"
set output output_file
set terminal pngcairo size 1000,500 enhanced font 'DejaVu Sans,11'
set multiplot layout 1,2
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set yrange [0:*]
set logscale y
set yrange [*:*]
set key top right
set title 'MNIST-sized 784-400-20 epoch (batch 128, 2 threads)'
set ylabel 'seconds (log scale)'
plot 'training.dat' using 2:xtic(1) title 'fp32' lc rgb '#3b528b', '' using 3 title 'bf16' lc rgb '#e07b39'
set title 's-curve config A, 500 epochs'
set boxwidth 0.7
set style histogram clustered gap 1
plot 'training.dat' using 4:xtic(1) notitle lc rgb '#5ec962'
unset multiplot
unset output
