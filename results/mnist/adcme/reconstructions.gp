# drawn by experiments/lib/plot.lua; redraw with: gnuplot reconstructions.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
set output 'reconstructions.png'
set palette gray
set cbrange [0:255]
unset colorbox
unset border
unset tics
unset key
set size ratio -1
set margins 1,1,1,3
set title "MNIST adcme (100 epochs, seed 1, avx2): test images (odd rows) and their reconstructions (even rows)"
plot 'reconstructions.u8' binary array=(242,242) format='%uchar' flipy with image notitle
unset output
