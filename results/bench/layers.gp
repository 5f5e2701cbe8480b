# experiment: bench
# backend: avx2,onednn,openblas,naive
# quick: no
# repeats: 7
# threads: 2
# date: 2026-12-02T01:56:44Z
# git revision: 992296d
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot layers.gp

if (!exists("output_file")) output_file = "layers.png"
set output output_file
set terminal pngcairo size 1100,600 enhanced font 'DejaVu Sans,10'
set title 'Dense layers (forward + backward), 2 threads: GFLOP/s per backend'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 font ',8'
set ylabel 'GFLOP/s'
set grid ytics
set key outside below
set yrange [0:430.6]
set bmargin 9
set rmargin 9
set arrow from graph 0, first 232.4 to graph 1, first 232.4 nohead dt 2 lc rgb 'gray30'
set label 'AVX2 FMA peak' at graph 0.75, first 232.4 offset 0,0.6
plot 'layers.dat' using 2:xtic(1) title 'avx2', 'layers.dat' using 3:xtic(1) title 'onednn', 'layers.dat' using 4:xtic(1) title 'openblas', 'layers.dat' using 5:xtic(1) title 'naive'
unset output
