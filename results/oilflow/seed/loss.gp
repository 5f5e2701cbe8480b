# experiment: oilflow (the MXFusion VAE tutorial's model on the oil flow data)
# config: seed: the MXFusion VAE tutorial's model: 12-50-50-2 tanh, shared posterior variance, learned noise variance, K = 3, Adam 1e-2, full batch, 2000 iterations {}
# backend: avx2
# seed: 1
# data: data/oilflow: 1000 training points (all), 1000 test points; sha256-checked
# epochs: 2000
# knn: leave-one-out 1-nearest-neighbour error count, Euclidean; test: test points against the training points
# loss: -ELBO per point in nats (Gaussian likelihood with the learned noise variance), full batch: an epoch is one iteration
# model: input=12 latent=2 hidden=50,50 activation=tanh,tanh mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=50,50 decoder_activation=tanh,tanh decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=linear head=shared likelihood=gaussian_learned noise_var=0.01 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0 decoder_dropout=0 samples=3 init=xavier init_magnitude=3 backend=avx2 precision=fp32 seed=1
# seeds: seeds 1..10 (seeds.tsv); the other tables and the charts are seed 1's; wall_seconds covers every seed
# validation: none (the yardstick is the 1-NN error count)
# date: 2026-12-02T02:18:53Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot loss.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "loss.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set title "oil flow seed (1000 points, 2000 iterations, seed 1): loss and learned noise variance"
set xlabel "iteration (full batch)"; set ylabel "-ELBO per point (nats)"
set y2label "noise variance"; set y2tics; set ytics nomirror; set logscale y2
set xrange [1:2000]
set key outside below; set grid
plot 'history.tsv' using "epoch":"train_loss" with lines lw 2 title 'loss (train)', \
     '' using "epoch":"noise_var" axes x1y2 with lines lw 2 title 'noise variance', \
     '' using "epoch":"posterior_var" axes x1y2 with lines lw 2 title 'posterior variance'
unset output
