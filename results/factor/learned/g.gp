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
# drawn by experiments/lib/plot.lua; redraw with: gnuplot g.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "g.png"
set output output_file
set datafile separator tab
set datafile columnheaders
set multiplot layout 4,5 title "factor model, learned variance (seed 1): g_j(t), true (black) and learned (orange, z = Q(Phi(t)))"
set xrange [-3:3]; set xtics 3; set key off
features = "1 6 11 16 21 26 31 36 41 46 51 56 61 66 71 76 81 86 91 96"
do for [k=1:20] {
  set title "g_{".word(features, k)."}"
  plot 'g.tsv' using 1:(column(k + 1)) with lines lw 2 lc rgb 'black', \
       '' using 1:(column(k + 1 + 20)) with lines lw 2 lc rgb '#ff7f0e'
}
unset multiplot
unset output
