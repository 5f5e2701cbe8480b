# experiment: factor (the TensorFlow blog post on a nonlinear factor model)
# backend: naive
# seed: 1
# data: vae.data.factor n=200 p=100 seed=1; rows 1-180 train, 181-200 test
# epochs: 200
# loss: -ELBO per example in nats, averaged over the batch
# model: input=100 latent=1 hidden=100,100 activation=relu,relu mean_hidden=100 mean_activation=relu var_hidden=100 var_activation=relu decoder_hidden=50,100 decoder_activation=relu,relu decoder_mean_hidden=100 decoder_mean_activation=relu decoder_var_hidden= decoder_var_activation= output=linear head=logvar likelihood=gaussian_learned noise_var=1 noise_per_feature=true posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0 decoder_dropout=0 samples=1 init=xavier init_magnitude=3 backend=naive precision=fp32 seed=1
# validation: the test set
# variance: learned
# date: 2026-12-02T02:22:57Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot latent.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "latent.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set title "factor model, learned variance (seed 1): encoded latent means (training rows)"
set xlabel "mean of z"; set ylabel "density"
set style fill solid 0.5
set key outside below
plot 'latent.tsv' using 1:2 with boxes lc rgb '#1f77b4' title 'encoded means', \
     '' using 1:3 with lines lw 2 lc rgb 'black' title 'N(0, 1)'
unset output
