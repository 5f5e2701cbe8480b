# experiment: mnist
# config: keras: the Keras VAE example (as the Keras s-curve ablation notebook runs it): 784-256-2 relu, dropout 0.2, sigmoid output, BCE + KL, Adam 1e-3, batch 100
# backend: avx2
# seed: 1
# data: 60000 training / 10000 test images, binarize none
# epochs: 50
# logpx: importance-weighted estimate with the Bernoulli mass on grey values: comparable with other BCE-based reports, but not a normalised density on [0,1] (use --binarize dynamic or --likelihood cbernoulli for one)
# loss: nats per image: reconstruction summed over the 784 pixels + KL, averaged over images
# model: input=784 latent=2 hidden=256 activation=relu mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=256 decoder_activation=relu decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=sigmoid head=logvar likelihood=bernoulli noise_var=1 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0.2 decoder_dropout=0.2 samples=1 init=xavier init_magnitude=3 backend=avx2 precision=fp32 seed=1
# validation: the 10000 test images
# date: 2026-12-02T02:00:06Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot loss.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "loss.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set title "MNIST keras (50 epochs, seed 1, avx2): loss per image"
set xlabel "epoch"; set ylabel "-ELBO (nats per image)"
set xrange [1:50]
set key outside below
set grid
plot 'history.tsv' using "epoch":"train_loss" with lines lw 2 title 'train', \
     '' using "epoch":"val_loss" with lines lw 2 title "test"
unset output
