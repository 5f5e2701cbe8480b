# experiment: mnist
# config: adcme: the ADCME VAE tutorial: 784-500(elu)-500(tanh)-20, sigma = 1e-6 + softplus, dropout 0.1, mirrored decoder 20-500(tanh)-500(elu)-784 sigmoid, BCE + KL, Adam 1e-3, batch 128
# backend: avx2
# seed: 1
# data: 60000 training / 10000 test images, binarize none
# epochs: 100
# logpx: importance-weighted estimate with the Bernoulli mass on grey values: comparable with other BCE-based reports, but not a normalised density on [0,1] (use --binarize dynamic or --likelihood cbernoulli for one)
# loss: nats per image: reconstruction summed over the 784 pixels + KL, averaged over images
# model: input=784 latent=20 hidden=500,500 activation=elu,tanh mean_hidden= mean_activation= var_hidden= var_activation= decoder_hidden=500,500 decoder_activation=tanh,elu decoder_mean_hidden= decoder_mean_activation= decoder_var_hidden= decoder_var_activation= output=sigmoid head=softplus likelihood=bernoulli noise_var=1 noise_per_feature=false posterior_var=1e-06 clamp=1e-07 kl=true beta=1 warmup=0 free_bits=0 dropout=0.1 decoder_dropout=0.1 samples=1 init=xavier init_magnitude=3 backend=avx2 precision=fp32 seed=1
# validation: the 10000 test images
# date: 2026-12-02T02:18:00Z
# git revision: 992296d (dirty)
# cpu: AMD EPYC
# host: 2 cores; flags sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16
# drawn by experiments/lib/plot.lua; redraw with: gnuplot samples.gp
set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'
if (!exists("output_file")) output_file = "samples.png"
set output output_file
set palette gray
set cbrange [0:255]
unset colorbox
unset border
unset tics
unset key
set size ratio -1
set margins 1,1,1,3
set title "MNIST adcme (100 epochs, seed 1, avx2): decoded means of 64 samples from the prior"
plot 'samples.u8' binary array=(242,242) format='%uchar' flipy with image notitle
unset output
