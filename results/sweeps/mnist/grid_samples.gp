# drawn by experiments/lib/plot.lua; redraw with: gnuplot grid_samples.gp

if (!exists("output_file")) output_file = "grid_samples.png"
set output output_file
set terminal pngcairo size 1120,940 enhanced font 'DejaVu Sans,9'
set palette gray
set cbrange [0:255]
unset colorbox
unset border
unset tics
unset key
set size ratio -1
set margins 1,1,1,3
set multiplot layout 3,4 title "MNIST sweep: decoded means of 64 prior samples per cell (median seed by test BCE)"
set title "bern,KL,d0 (seed 0)"
plot 'median/bern,KL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "bern,KL,d0.2 (seed 0)"
plot 'median/bern,KL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "bern,noKL,d0 (seed 0)"
plot 'median/bern,noKL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "bern,noKL,d0.2 (seed 2)"
plot 'median/bern,noKL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "gauss,KL,d0 (seed 1)"
plot 'median/gauss,KL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "gauss,KL,d0.2 (seed 1)"
plot 'median/gauss,KL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "gauss,noKL,d0 (seed 2)"
plot 'median/gauss,noKL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "gauss,noKL,d0.2 (seed 0)"
plot 'median/gauss,noKL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "cbern,KL,d0 (seed 1)"
plot 'median/cbern,KL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "cbern,KL,d0.2 (seed 0)"
plot 'median/cbern,KL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "cbern,noKL,d0 (seed 0)"
plot 'median/cbern,noKL,d0/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
set title "cbern,noKL,d0.2 (seed 2)"
plot 'median/cbern,noKL,d0.2/samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
unset multiplot
unset output
