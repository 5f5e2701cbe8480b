# experiment: oilflow (the MXFusion VAE tutorial's model on the oil flow data)
# config: best: the tutorial's model trained for 10000 iterations instead of 2000 {epochs=10000}
# backend: avx2
# seed: 1
# data: data/oilflow: 1000 training points (all), 1000 test points; sha256-checked
# epochs: 10000
# knn: leave-one-out 1-nearest-neighbour error count, Euclidean; test: test points against the training points
# loss: -ELBO per point in nats (Gaussian likelihood with the learned noise variance), full batch: an epoch is one iteration
# model: input=12 latent=2 hidden=50,50 activation=tanh,tanh mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=50,50 decoder_activation=tanh,tanh decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=linear head=shared likelihood=gaussian_learned noise_var=0.01 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0 decoder_dropout=0 samples=3 init=xavier init_magnitude=3 backend=avx2 precision=fp32 seed=1
# seeds: seeds 1..10 (seeds.tsv); the other tables and the charts are seed 1's; wall_seconds covers every seed
# validation: none (the yardstick is the 1-NN error count)
# date: 2026-12-02T02:22:37Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot latent_pca.gp

if (!exists("output_file")) output_file = "latent_pca.png"
set output output_file
set terminal pngcairo size 1400,600 enhanced font 'DejaVu Sans,11'
set multiplot layout 1,2 title "oil flow best (1000 points, 10000 iterations, seed 1)"
set datafile separator tab
set datafile columnheaders
set title "VAE latent means (1-NN errors: 13)"
set xlabel "z_1"; set ylabel "z_2"
set key outside right top title "regime" box
plot "latent.tsv" using "z1":(column("regime") == 1 ? column("z2") : 1/0) with points pt 7 ps 0.5 lc rgb '#1f77b4' title "homogeneous", \
     '' using "z1":(column("regime") == 2 ? column("z2") : 1/0) with points pt 7 ps 0.5 lc rgb '#ff7f0e' title "annular", \
     '' using "z1":(column("regime") == 3 ? column("z2") : 1/0) with points pt 7 ps 0.5 lc rgb '#2ca02c' title "stratified"
set datafile separator tab
set datafile columnheaders
set title "PCA to 2-D (1-NN errors: 162)"
set xlabel "principal component 1 (39% of variance)"; set ylabel "principal component 2 (27% of variance)"
set key outside right top title "regime" box
plot "latent.tsv" using "pc1":(column("regime") == 1 ? column("pc2") : 1/0) with points pt 7 ps 0.5 lc rgb '#1f77b4' title "homogeneous", \
     '' using "pc1":(column("regime") == 2 ? column("pc2") : 1/0) with points pt 7 ps 0.5 lc rgb '#ff7f0e' title "annular", \
     '' using "pc1":(column("regime") == 3 ? column("pc2") : 1/0) with points pt 7 ps 0.5 lc rgb '#2ca02c' title "stratified"
unset multiplot
unset output
