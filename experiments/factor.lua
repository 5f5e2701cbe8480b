-- The nonlinear one-factor model of the TensorFlow blog post on a nonlinear factor model :
-- Z ~ N(0, 1), X_j = g_j(Z) + eps_j, eps_j ~ N(0, sigma_j^2), with a known truth
-- (harness/data.h has the family of g_j), fitted by the post's VAE. run(opts)
-- trains one noise model and writes history.tsv, summary.tsv, the chart tables
-- and the charts into results/factor/<variance>/; it returns the summary.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local vae = experiment.load_vae()

local M = { vae = vae }

-- The three noise models. per-example is the post's code: its decoder predicts a
-- log-variance per feature and averages it over the features.
M.VARIANCES = {
  ["per-example"] = { likelihood = "gaussian_logvar_mean", decoder_var_hidden = { 100 } },
  ["per-feature"] = { likelihood = "gaussian_logvar", decoder_var_hidden = { 100 } },
  learned = { likelihood = "gaussian_learned", noise_per_feature = true, noise_var = 1 },
}
M.VARIANCE_NAMES = { "per-example", "per-feature", "learned" }

M.usage = [[
usage: lua experiments/factor.lua [options]

Fits the nonlinear one-factor model of the TensorFlow blog post on a nonlinear factor model 
to data with a known truth (vae.data.factor: Z ~ N(0,1), X_j = g_j(Z) + eps_j),
90% of the rows for training, the last 10% as the test set. The post's model:
encoder trunk 100-100 relu, mean and log-variance heads 100(relu)-1; decoder
trunk 1-50-100 relu, mean and log-variance heads 100(relu)-p linear; Adam 1e-3,
batch 32, 200 epochs. --variance picks the noise model:
  per-example  the decoder's log-variances averaged over the features: one
               variance per example (the post's code)
  per-feature  a decoder log-variance per feature and example
  learned      one learned sigma_j per feature, independent of z (the post's
               written model)
Writes history.tsv, summary.tsv and the charts loss, recon, latent, g, sigma
into results/factor/<variance>/ for a run with the default options (--variance
aside), results/scratch/factor/<variance>/ (git-ignored) for any other, or --out.]]

M.spec = {
  -- neutral: it names the folder, so it is no change of the committed defaults
  { name = "variance", default = "per-example", neutral = true, help = "noise model: per-example, per-feature or learned",
    check = experiment.one_of(M.VARIANCE_NAMES) },
  { name = "n", default = 200, help = "rows of data (90% train, 10% test)", check = experiment.positive_int },
  { name = "p", default = 100, help = "features", check = experiment.positive_int },
  { name = "epochs", default = 200, help = "passes over the training rows", check = experiment.positive_int },
  { name = "seeds", default = 1, neutral = true, check = experiment.positive_int,
    help = "N > 1: run seeds seed..seed+N-1 (tables only, in temporary folders) and write their scores, mean and sd into seeds.tsv" },
}
for _, s in ipairs(experiment.common_options(vae, { backend = "naive",
    out_help = "output folder (default: results/factor/<variance>/, see above)" })) do
  M.spec[#M.spec + 1] = s
end

local function normal_pdf(x) return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi) end
local function normal_cdf(x) return stats.normal_cdf(x) end

-- The score of a fitted model against the truth: see README "Nonlinear factor model".
local function score(model, data, rows, truth_z, g)
  local mu = model:encode(data):col(1)
  local recon = model:reconstruct(data):totable()
  local n, p = #recon, #recon[1]
  local sq = 0
  for i = 1, n do
    for j = 1, p do sq = sq + (recon[i][j] - g(j, truth_z[rows[i]])) ^ 2 end
  end
  return mu, recon, sq / (n * p)
end

local function sd(v, m)
  if #v < 2 then return 0 end
  local s = 0
  for _, x in ipairs(v) do s = s + (x - m) ^ 2 end
  return math.sqrt(s / (#v - 1))
end

-- --seeds N: one run per seed into a temporary folder; seeds.tsv gets a row per
-- seed, then mean and sd rows. Returns the mean row (a summary-like table).
local function run_seeds(opts, given)
  if opts.checkpoint then return nil, "--checkpoint trains one seed: drop --seeds" end
  local rows, by_score = {}, {}
  for k = 0, opts.seeds - 1 do
    local one = {}
    for key, v in pairs(given) do one[key] = v end
    local tmp = os.tmpname()
    os.remove(tmp)
    one.seeds, one.seed, one.out, one["no-charts"] = 1, opts.seed + k, tmp, true
    local s, err = M.run(one)
    os.execute("rm -rf " .. experiment.shell_quote(tmp))
    if not s then return nil, err end
    local row = { tostring(s.seed) }
    for i, c in ipairs(M.SCORES) do
      row[#row + 1] = s[c]
      by_score[i] = by_score[i] or {}
      by_score[i][#by_score[i] + 1] = s[c]
    end
    rows[#rows + 1] = row
  end
  local mean_row, sd_row, summary = { "mean" }, { "sd" }, { seeds = opts.seeds }
  for i, c in ipairs(M.SCORES) do
    local m = stats.mean(by_score[i])
    mean_row[#mean_row + 1], sd_row[#sd_row + 1] = m, sd(by_score[i], m)
    summary[c], summary[c .. "_sd"] = m, sd_row[#sd_row]
  end
  rows[#rows + 1], rows[#rows + 2] = mean_row, sd_row
  local out, why = experiment.output_dir(M.spec, opts, "factor", opts.variance)
  experiment.mkdir(out)
  local cols = { "seed" }
  for _, c in ipairs(M.SCORES) do cols[#cols + 1] = c end
  results.write_tsv(out .. "/seeds.tsv", {
    experiment = "factor (the TensorFlow blog post on a nonlinear factor model), over seeds", variance = opts.variance,
    seeds = string.format("%d..%d", opts.seed, opts.seed + opts.seeds - 1), backend = opts.backend,
    epochs = opts.epochs, n = opts.n, p = opts.p,
  }, cols, rows)
  io.stdout:write("wrote ", experiment.display(out), "/seeds.tsv (", why, ")\n")
  summary.out = out
  return summary
end

M.SCORES = { "n", "p", "elbo_test", "g_mse", "g_mse_test", "mean_sigma2", "g_mse_ratio",
  "spearman_abs", "sigma_rmse", "sigma_abs_log" }

function M.run(given)
  local opts = experiment.check_options(M.spec, given)
  if opts.seeds > 1 then return run_seeds(opts, given or {}) end
  local t_start = vae.clock()
  local n, p, epochs = opts.n, opts.p, opts.epochs
  local n_train = math.floor(0.9 * n + 0.5)
  if n_train < 1 or n_train >= n then return nil, "--n: need at least 2 rows for a 90/10 split (got " .. n .. ")" end
  local data = vae.data.factor { n = n, p = p, seed = opts.seed }
  -- rows are i.i.d., so the first 90% is as good a random split as any
  local train, test = data.x:subset(1, n_train), data.x:subset(n_train + 1, n)
  local Z = data.z:col(1)
  local sigma = data.sigma:totable()[1]

  local v = M.VARIANCES[opts.variance]
  local model_config = {
    input = p, latent = 1, hidden = { 100, 100 }, activation = "relu",
    mean_hidden = { 100 }, var_hidden = { 100 },
    decoder_hidden = { 50, 100 }, decoder_mean_hidden = { 100 },
    output = "linear", head = "logvar", init = "xavier", backend = opts.backend, seed = opts.seed,
  }
  for k, val in pairs(v) do model_config[k] = val end
  local fit_opts = { epochs = epochs, batch = 32, lr = 1e-3, validation = test }
  experiment.apply_sets(vae, opts.set, model_config, fit_opts)
  experiment.apply_checkpoint(opts, fit_opts)
  epochs = fit_opts.epochs
  vae.set_threads(opts.threads)
  local model, err = vae.model(model_config)
  if not model then return nil, err end
  fit_opts.on_batch, fit_opts.on_epoch = experiment.progress {
    vae = vae, label = "variance " .. opts.variance, epochs = epochs, rows = n_train,
    every = math.max(1, epochs // 10), quiet = opts.quiet }
  local history, ferr = model:fit(train, fit_opts)
  if not history then return nil, ferr end
  local seconds_per_epoch, train_seconds = results.timing(history)
  local final = history[#history]

  -- Scores. The latent is identified only up to a monotone map: the sign of
  -- Spearman(z_hat, Z) orients it, and the learned g_j are drawn against the
  -- true Z through the quantile map z_hat = Q(Phi(+-t)) (Q the empirical
  -- quantile of the encoded training means).
  local train_rows, test_rows = {}, {}
  for i = 1, n_train do train_rows[i] = i end
  for i = n_train + 1, n do test_rows[i - n_train] = i end
  local mu, recon, g_mse = score(model, train, train_rows, Z, data.g)
  local _, _, g_mse_test = score(model, test, test_rows, Z, data.g)
  local z_train = {}
  for i = 1, n_train do z_train[i] = Z[i] end
  local rho = stats.spearman(mu, z_train)
  local sign = rho < 0 and -1 or 1
  local mean_var = 0
  for j = 1, p do mean_var = mean_var + sigma[j] ^ 2 / p end
  local elbo_test = -model:evaluate(test).loss

  -- estimated sigma_j: learned, the parameter; otherwise sqrt of the mean over
  -- the training rows of the decoder's variance at the encoded z
  local sigma_hat = {}
  local info = model:info()
  if info.noise_vars then
    for j = 1, p do sigma_hat[j] = math.sqrt(info.noise_vars[j]) end
  else
    local zm = vae.matrix(n_train, 1)
    for i = 1, n_train do zm:set(i, 1, mu[i]) end
    local lv = model:decode_logvar(zm):totable()
    for j = 1, p do
      local s = 0
      for i = 1, n_train do s = s + math.exp(lv[i][j]) end
      sigma_hat[j] = math.sqrt(s / n_train)
    end
  end
  local se, alr = 0, 0
  for j = 1, p do
    se = se + (sigma_hat[j] - sigma[j]) ^ 2
    alr = alr + math.abs(math.log(sigma_hat[j] / sigma[j]))
  end
  local sigma_rmse, sigma_abs_log = math.sqrt(se / p), alr / p

  local out, why = experiment.output_dir(M.spec, opts, "factor", opts.variance)
  experiment.mkdir(out)
  local meta = {
    experiment = "factor (the TensorFlow blog post on a nonlinear factor model)",
    variance = opts.variance, backend = opts.backend, seed = opts.seed, epochs = epochs,
    data = string.format("vae.data.factor n=%d p=%d seed=%d; rows 1-%d train, %d-%d test", n, p,
      opts.seed, n_train, n_train + 1, n),
    model = model:config_text(), validation = "the test set",
    loss = "-ELBO per example in nats, averaged over the batch",
  }
  if #opts.set > 0 then meta.set = table.concat(opts.set, " ") end
  results.write_history(out .. "/history.tsv", meta, history)

  -- recon.tsv: every training entry, original and decoder mean at the encoded z
  local X = train:totable()
  local rrows = {}
  for i = 1, n_train do
    for j = 1, p do rrows[#rrows + 1] = { X[i][j], recon[i][j] } end
  end
  results.write_tsv(out .. "/recon.tsv", meta, { "x", "recon" }, rrows)

  -- latent.tsv: a density histogram of the encoded means, beside N(0, 1)
  local lo, hi = math.huge, -math.huge
  for _, m in ipairs(mu) do lo, hi = math.min(lo, m), math.max(hi, m) end
  lo, hi = math.min(lo, -3), math.max(hi, 3)
  local bins = 30
  local width = (hi - lo) / bins
  local counts = {}
  for b = 1, bins do counts[b] = 0 end
  for _, m in ipairs(mu) do
    local b = math.min(bins, math.floor((m - lo) / width) + 1)
    counts[b] = counts[b] + 1
  end
  local hrows = {}
  for b = 1, bins do
    local c = lo + (b - 0.5) * width
    hrows[b] = { c, counts[b] / (n_train * width), normal_pdf(c) }
  end
  results.write_tsv(out .. "/latent.tsv", meta, { "z", "density", "normal_pdf" }, hrows)

  -- g.tsv: 20 features (or p), true g_j and the learned one over t in [-3, 3]
  local shown = {}
  local n_shown = math.min(20, p)
  for k = 1, n_shown do shown[k] = 1 + math.floor((k - 1) * p / n_shown) end
  local grid_n = 61
  local zq = vae.matrix(grid_n, 1)
  local tgrid = {}
  for k = 1, grid_n do
    local t = -3 + 6 * (k - 1) / (grid_n - 1)
    tgrid[k] = t
    zq:set(k, 1, stats.quantile(mu, normal_cdf(sign * t)))
  end
  local dec = model:decode(zq):totable()
  local gcols, grows = { "t" }, {}
  for k = 1, n_shown do gcols[#gcols + 1] = "true_" .. shown[k] end
  for k = 1, n_shown do gcols[#gcols + 1] = "learned_" .. shown[k] end
  for k = 1, grid_n do
    local row = { tgrid[k] }
    for q = 1, n_shown do row[#row + 1] = data.g(shown[q], tgrid[k]) end
    for q = 1, n_shown do row[#row + 1] = dec[k][shown[q]] end
    grows[k] = row
  end
  results.write_tsv(out .. "/g.tsv", meta, gcols, grows)

  local srows = {}
  for j = 1, p do srows[j] = { j, sigma[j], sigma_hat[j] } end
  results.write_tsv(out .. "/sigma.tsv", meta, { "feature", "sigma", "sigma_hat" }, srows)

  local summary = {
    experiment = "factor", config = opts.variance, seed = opts.seed, backend = opts.backend,
    threads = opts.threads, epochs = epochs, train_loss = final.loss, val_loss = final.val_loss,
    val_recon = final.val_recon, val_kl = final.val_kl, n = n, p = p,
    elbo_test = elbo_test, g_mse = g_mse, g_mse_test = g_mse_test, mean_sigma2 = mean_var,
    g_mse_ratio = g_mse / mean_var, spearman_abs = math.abs(rho),
    sigma_rmse = sigma_rmse, sigma_abs_log = sigma_abs_log,
    seconds_per_epoch = seconds_per_epoch, train_seconds = train_seconds,
    wall_seconds = vae.clock() - t_start, peak_rss_mb = experiment.peak_rss_mb(),
  }
  results.write_summary(out .. "/summary.tsv", meta, summary, M.SCORES)

  io.stdout:write(string.format("variance %s seed %d: test ELBO %.3f  g mse %.4f (%.3f of mean sigma^2)  |spearman| %.3f  sigma rmse %.4f  mean |log ratio| %.3f  train %.2f s\n",
    opts.variance, opts.seed, elbo_test, g_mse, g_mse / mean_var, math.abs(rho), sigma_rmse,
    sigma_abs_log, train_seconds))

  if not opts["no-charts"] then
    local title = string.format("factor model, %s variance (seed %d)", opts.variance, opts.seed)
    local charts = {
      loss = plot.loss_chart { title = title .. ": loss per example", epochs = epochs,
        val_title = "test set", ylabel = "-ELBO (nats per example)" },
      recon = plot.tsv .. "\n" .. string.format([[
set title "%s: decoder mean at the encoded z vs data (training entries)"
set xlabel "original X_{ij}"; set ylabel "reconstructed"; set size ratio -1
set key outside below
plot 'recon.tsv' using 1:2 with points pt 7 ps 0.2 lc rgb '#1f77b4' title 'entries', \
     x with lines lw 2 lc rgb 'black' title 'identity']], title),
      latent = plot.tsv .. "\n" .. string.format([[
set title "%s: encoded latent means (training rows)"
set xlabel "mean of z"; set ylabel "density"
set style fill solid 0.5
set key outside below
plot 'latent.tsv' using 1:2 with boxes lc rgb '#1f77b4' title 'encoded means', \
     '' using 1:3 with lines lw 2 lc rgb 'black' title 'N(0, 1)']], title),
      g = plot.tsv .. "\n" .. string.format([[
set multiplot layout 4,5 title "%s: g_j(t), true (black) and learned (orange, z = Q(Phi(%st)))"
set xrange [-3:3]; set xtics 3; set key off
features = "%s"
do for [k=1:%d] {
  set title "g_{".word(features, k)."}"
  plot 'g.tsv' using 1:(column(k + 1)) with lines lw 2 lc rgb 'black', \
       '' using 1:(column(k + 1 + %d)) with lines lw 2 lc rgb '#ff7f0e'
}
unset multiplot]], title, sign < 0 and "-" or "", table.concat(shown, " "), n_shown, n_shown),
      sigma = plot.tsv .. "\n" .. string.format([[
set title "%s: estimated vs true sigma_j"
set xlabel "true sigma_j"; set ylabel "estimated sigma_j"
set key outside below
plot 'sigma.tsv' using 2:3 with points pt 7 ps 0.8 lc rgb '#1f77b4' title 'features', \
     x with lines lw 2 lc rgb 'black' title 'identity']], title),
    }
    for _, name in ipairs { "loss", "recon", "latent", "g", "sigma" } do
      local ok, perr = plot.draw(out, name, charts[name], meta)
      if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
    end
  end
  model:close()
  summary.out = out
  io.stdout:write("wrote ", experiment.display(out), "/ (", why, ")\n")
  return summary
end

if experiment.is_main() then os.exit(experiment.main(M, arg)) end
return M
