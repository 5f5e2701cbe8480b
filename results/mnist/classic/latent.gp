# experiment: mnist
# config: classic: 784-400-20 relu, sigmoid output, BCE + KL, Adam 1e-3 (eps 1e-8), batch 128
# backend: avx2
# seed: 1
# data: 60000 training / 10000 test images, binarize none
# epochs: 10
# logpx: importance-weighted estimate with the Bernoulli mass on grey values: comparable with other BCE-based reports, but not a normalised density on [0,1] (use --binarize dynamic or --likelihood cbernoulli for one)
# loss: nats per image: reconstruction summed over the 784 pixels + KL, averaged over images
# model: input=784 latent=20 hidden=400 activation=relu mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=400 decoder_activation=relu decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=sigmoid head=logvar likelihood=bernoulli noise_var=1 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0 decoder_dropout=0 samples=1 init=xavier init_magnitude=3 backend=avx2 precision=fp32 seed=1
# validation: the 10000 test images
# date: 2026-12-02T01:57:52Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot latent.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "latent.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set title "MNIST classic (10 epochs, seed 1, avx2): test set in latent space (encoder means, 20-D, by PCA)"
set xlabel "principal component 1 (8% of variance)"; set ylabel "principal component 2 (8% of variance)"
set key outside right top title "digit" box
plot "latent.tsv" using "c1":(column("digit") == 0 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#1f77b4' title "0", \
     '' using "c1":(column("digit") == 1 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#ff7f0e' title "1", \
     '' using "c1":(column("digit") == 2 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#2ca02c' title "2", \
     '' using "c1":(column("digit") == 3 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#d62728' title "3", \
     '' using "c1":(column("digit") == 4 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#9467bd' title "4", \
     '' using "c1":(column("digit") == 5 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#8c564b' title "5", \
     '' using "c1":(column("digit") == 6 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#e377c2' title "6", \
     '' using "c1":(column("digit") == 7 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#7f7f7f' title "7", \
     '' using "c1":(column("digit") == 8 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#bcbd22' title "8", \
     '' using "c1":(column("digit") == 9 ? column("c2") : 1/0) with points pt 7 ps 0.3 lc rgb '#17becf' title "9"
unset output
