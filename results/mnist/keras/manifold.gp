# drawn by experiments/lib/plot.lua; redraw with: gnuplot manifold.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'manifold.png'
set palette gray
set cbrange [0:255]
unset colorbox
unset border
unset tics
unset key
set size ratio -1
set margins 1,1,1,3
set title "MNIST keras (50 epochs, seed 1, avx2): decoded means over the 15x15 normal-quantile grid 0.05..0.95\n(z_1 left to right, z_2 bottom to top)"
plot 'manifold.u8' binary array=(452,452) format='%uchar' flipy with image notitle
unset output
