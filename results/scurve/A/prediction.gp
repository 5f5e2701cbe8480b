# experiment: scurve (the Keras s-curve ablation notebook)
# config: A {act="relu", batch=32, dropout=0.2, epochs=500, kl=true, latent=1, layers=1, likelihood="bernoulli", lr=0.001, output="sigmoid", width=100}
# backend: naive
# seed: 1
# epochs: 500
# loss: per example, averaged over the batch; bernoulli is the summed binary cross-entropy
# model: input=2 latent=1 hidden=100 activation=relu mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=100 decoder_activation=relu decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=sigmoid head=logvar likelihood=bernoulli noise_var=1 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0.2 decoder_dropout=0.2 samples=1 init=xavier init_magnitude=3 backend=naive precision=fp32 seed=1
# validation: the training set (300 points)
# date: 2026-12-02T01:56:45Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot prediction.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "prediction.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')
set title "s-curve config A (seed 1, naive): decoder output for z_1 in [-0.0109, 0.00501]\n(the encoder means' range, widened 5%)"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set cblabel "z_1"
set key outside below
plot 'embedding.tsv' using 1:2 with points pt 7 ps 0.4 lc rgb '#bbbbbb' title 'data', \
     'prediction.tsv' using 2:3:1 with points pt 7 ps 1 palette title 'decoded'
unset output
