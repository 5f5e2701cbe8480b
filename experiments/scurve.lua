-- The s-curve ablation of the Keras s-curve ablation notebook: a VAE on 300
-- points of a 2-D "S" whose true 1-D parameter x is known, so we can measure
-- whether the latent recovers it. run(opts) trains one config and writes
-- history.tsv, summary.tsv, the chart tables and five charts into the output
-- folder (results/scurve/<config>/); it returns the summary.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local vae = experiment.load_vae()

local M = { vae = vae }

-- The notebook's sequence of runs. All Adam; validation on the training set;
-- loss per example averaged over the batch.
M.CONFIGS = {
  A = { likelihood = "bernoulli", kl = true, latent = 1, layers = 1, width = 100, act = "relu", output = "sigmoid", dropout = 0.2, lr = 1e-3, batch = 32, epochs = 500 },
  B = { likelihood = "mse", kl = true, latent = 1, layers = 5, width = 40, act = "relu", output = "tanh", dropout = 0.2, lr = 1e-4, batch = 200, epochs = 500 },
  C = { likelihood = "mse", kl = true, latent = 1, layers = 2, width = 20, act = "relu", output = "tanh", dropout = 0, lr = 1e-3, batch = 200, epochs = 50 },
  D = { likelihood = "mse", kl = true, latent = 10, layers = 2, width = 20, act = "relu", output = "tanh", dropout = 0, lr = 1e-3, batch = 200, epochs = 100 },
  E = { likelihood = "mse", kl = true, latent = 2, layers = 2, width = 20, act = "relu", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  F = { likelihood = "mse", kl = true, latent = 2, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  G = { likelihood = "mse", kl = false, latent = 2, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 100 },
  H = { likelihood = "mse", kl = false, latent = 1, layers = 2, width = 20, act = "tanh", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 1000 },
  I = { likelihood = "mse", kl = false, latent = 1, layers = 2, width = 20, act = "relu", output = "none", dropout = 0, lr = 1e-3, batch = 32, epochs = 1000 },
}
M.NAMES = { "A", "B", "C", "D", "E", "F", "G", "H", "I" }

M.usage = [[
usage: lua experiments/scurve.lua [options]

Trains one configuration (A..I) of the s-curve ablation in the Keras s-curve
ablation notebook (docs/experiments.md) and writes history.tsv, summary.tsv and
the charts loss, embedding, full_embedding, prediction and inout (PNG, with
their gnuplot scripts) into the output folder: results/scurve/<config>/ for a
run with the default options, results/scratch/scurve/<config>/ (git-ignored)
for any other, or --out.
Config A: BCE + KL, latent 1, 1 x 100 relu, sigmoid output, dropout 0.2, lr 1e-3,
batch 32, 500 epochs.  H and I: MSE without KL (plain autoencoders).]]

M.spec = {
  { name = "config", default = "A", help = "which run of the notebook: A..I (any case)", check = experiment.one_of(M.NAMES) },
  { name = "epochs", help = "override the config's epoch count", check = experiment.positive_int },
}
for _, s in ipairs(experiment.common_options(vae, { backend = "naive",
    out_help = "output folder (default: results/scurve/<config>/, see above)" })) do
  M.spec[#M.spec + 1] = s
end

local function span(v)
  local lo, hi = math.huge, -math.huge
  for _, x in ipairs(v) do lo, hi = math.min(lo, x), math.max(hi, x) end
  return lo, hi
end

-- A note for a colour scale over a tiny range: it would read as a gradient.
local function collapse_note(lo, hi)
  if hi - lo < 0.1 then
    return string.format(" (z spans only %.2g: posterior collapsed)", hi - lo)
  end
  return ""
end

-- Active latent units (Burda et al. 2016): dimensions whose posterior mean varies
-- across the data, Cov_x(E[z_j | x]) > 0.01. mu: rows of latent means.
function M.active_units(mu, threshold)
  threshold = threshold or 0.01
  local n, count = #mu, 0
  for j = 1, #mu[1] do
    local col = {}
    for i = 1, n do col[i] = mu[i][j] end
    local m = stats.mean(col)
    local v = 0
    for i = 1, n do v = v + (col[i] - m) ^ 2 end
    if v / (n - 1) > threshold then count = count + 1 end
  end
  return count
end

-- Neighbour agreement: the share of points whose nearest neighbour in latent-mean
-- space (Euclidean over the ACTIVE dims, Cov > threshold) is one of its k nearest
-- neighbours along the curve (by the true x). It is local, so a code that is
-- monotone in pieces, reversed, or spread over several latent dims still scores
-- high when it keeps neighbours together (|Spearman| of z_1 does not), and it
-- drops exactly where a folded code maps distant parts of the curve onto the same
-- code. Only active dims count: a collapsed dim's mean still varies a little with
-- x, in order, but far below its posterior noise, so it carries nothing; with no
-- active dim the score is 0.
function M.nn_agreement(mu, truth, k, threshold)
  threshold = threshold or 0.01
  local n = #mu
  local keep = {}
  for j = 1, #mu[1] do
    local s, s2 = 0, 0
    for i = 1, n do s = s + mu[i][j]; s2 = s2 + mu[i][j] ^ 2 end
    if (s2 - s * s / n) / (n - 1) > threshold then keep[#keep + 1] = j end
  end
  if #keep == 0 then return 0 end
  local active = {}
  for i = 1, n do
    local r = {}
    for c, j in ipairs(keep) do r[c] = mu[i][j] end
    active[i] = r
  end
  mu = active
  local L = #keep
  local order = {}
  for i = 1, n do order[i] = i end
  table.sort(order, function(a, b) return truth[a] < truth[b] end)
  local pos = {}
  for r, i in ipairs(order) do pos[i] = r end
  local hits = 0
  for i = 1, n do
    local best, bd = nil, math.huge
    local mi = mu[i]
    for j = 1, n do
      if j ~= i then
        local d, mj = 0, mu[j]
        for c = 1, L do d = d + (mi[c] - mj[c]) ^ 2 end
        if d < bd then best, bd = j, d end
      end
    end
    -- best is among i's k nearest along the curve when fewer than k points lie
    -- strictly closer to i in x
    local dx, closer = math.abs(truth[best] - truth[i]), 0
    local lo, hi = pos[i] - 1, pos[i] + 1
    while closer < k and (lo >= 1 or hi <= n) do
      local dl = lo >= 1 and math.abs(truth[order[lo]] - truth[i]) or math.huge
      local dh = hi <= n and math.abs(truth[order[hi]] - truth[i]) or math.huge
      local d = math.min(dl, dh)
      if d >= dx then break end
      closer = closer + 1
      if dl <= dh then lo = lo - 1 else hi = hi + 1 end
    end
    if closer < k then hits = hits + 1 end
  end
  return hits / n
end

function M.run(given)
  local opts = experiment.check_options(M.spec, given)
  local t_start = vae.clock()
  local cfg = M.CONFIGS[opts.config]
  local epochs = opts.epochs or cfg.epochs
  local hidden = {}
  for i = 1, cfg.layers do hidden[i] = cfg.width end

  local data = vae.data.scurve { n = 300, seed = opts.seed }
  local model_config = {
    input = 2, latent = cfg.latent, hidden = hidden, activation = cfg.act,
    output = cfg.output, likelihood = cfg.likelihood, kl = cfg.kl, dropout = cfg.dropout,
    head = "logvar", init = "xavier", backend = opts.backend,
    seed = opts.seed,
  }
  local fit_opts = { epochs = epochs, batch = cfg.batch, lr = cfg.lr, validation = data }
  experiment.apply_checkpoint(opts, fit_opts)
  experiment.apply_sets(vae, opts.set, model_config, fit_opts)
  epochs = fit_opts.epochs
  local out, why = experiment.output_dir(M.spec, opts, "scurve", opts.config)
  experiment.check_output(out) -- before training, not after it
  local final_out = out
  out = results.begin_run(final_out) -- written there, swapped into place at the end
  vae.set_threads(opts.threads) -- process-level: every backend's pool
  local model, err = vae.model(model_config)
  if not model then return nil, err end

  fit_opts.on_batch, fit_opts.on_epoch = experiment.progress {
    vae = vae, label = "config " .. opts.config, epochs = epochs, rows = 300,
    every = math.max(1, epochs // 10), quiet = opts.quiet }
  local history, ferr = model:fit(data, fit_opts)
  if not history then return nil, ferr end
  local seconds_per_epoch, train_seconds = results.timing(history)

  -- Measures: reconstruction error of encode-decode of the means (mean over
  -- points and both coordinates), and |Spearman| between the first latent mean
  -- and x.
  local X = data.x:totable()
  local truth = data.t:col(1)
  local mu1 = model:encode(data):col(1)
  local recon = model:reconstruct(data):totable()
  local sq = 0
  for i = 1, #X do
    for j = 1, 2 do sq = sq + (recon[i][j] - X[i][j]) ^ 2 end
  end
  local recon_mse = sq / (2 * #X)
  local rho = math.abs(stats.spearman(mu1, truth))
  local mu_all = model:encode(data):totable()
  local active = M.active_units(mu_all)
  local nn_agree = M.nn_agreement(mu_all, truth, 5)
  local final = history[#history]

  experiment.mkdir(out)
  local meta = {
    experiment = "scurve (the Keras s-curve ablation notebook)",
    config = opts.config .. " " .. experiment.render(cfg),
    backend = opts.backend, seed = opts.seed, epochs = epochs,
    model = model:config_text(), validation = "the training set (300 points)",
    loss = "per example, averaged over the batch; "
      .. (cfg.likelihood == "mse" and "mse is the summed squared error, not a normalised likelihood"
          or "bernoulli is the summed binary cross-entropy"),
  }
  if #opts.set > 0 then meta.set = table.concat(opts.set, " ") end
  results.write_history(out .. "/history.tsv", meta, history)

  -- Chart tables: embedding (data, latent mean, truth), the 100x100 grid of
  -- latent means, the decoded line over the range of z_1 the encoder uses
  -- (other latents 0), data and reconstruction.
  local emb = {}
  for i = 1, #X do emb[i] = { X[i][1], X[i][2], mu1[i], truth[i] } end
  results.write_tsv(out .. "/embedding.tsv", meta, { "x0", "x1", "mu1", "true_x" }, emb)

  local grid_n = 100
  local grid = vae.matrix(grid_n * grid_n, 2)
  for a = 0, grid_n - 1 do
    for b = 0, grid_n - 1 do
      grid:set(a * grid_n + b + 1, 1, b / (grid_n - 1))
      grid:set(a * grid_n + b + 1, 2, a / (grid_n - 1))
    end
  end
  local gmu = model:encode(grid):col(1)
  local grows = {}
  for k = 1, grid_n * grid_n do grows[k] = { grid:get(k, 1), grid:get(k, 2), gmu[k] } end
  results.write_tsv(out .. "/full_embedding.tsv", meta, { "x0", "x1", "mu1" }, grows)

  local zlo, zhi = span(mu1)
  local widen = math.max(0.05 * (zhi - zlo), 1e-3)
  zlo, zhi = zlo - widen, zhi + widen
  local line_n = 100
  local zl = vae.matrix(line_n, cfg.latent)
  for k = 1, line_n do zl:set(k, 1, zlo + (zhi - zlo) * (k - 1) / (line_n - 1)) end
  local pred = model:decode(zl):totable()
  local prows = {}
  for k = 1, line_n do prows[k] = { zl:get(k, 1), pred[k][1], pred[k][2] } end
  results.write_tsv(out .. "/prediction.tsv", meta, { "z1", "x0", "x1" }, prows)

  local io_rows = {}
  for i = 1, #X do io_rows[i] = { X[i][1], X[i][2], recon[i][1], recon[i][2] } end
  results.write_tsv(out .. "/inout.tsv", meta, { "x0", "x1", "recon0", "recon1" }, io_rows)

  local summary = {
    experiment = "scurve", config = opts.config, seed = opts.seed, backend = opts.backend,
    threads = opts.threads, epochs = epochs, train_loss = final.loss, val_loss = final.val_loss,
    val_recon = final.val_recon, val_kl = final.val_kl, recon_mse = recon_mse, spearman_abs = rho,
    active_units = active, nn_agreement = nn_agree,
    seconds_per_epoch = seconds_per_epoch, train_seconds = train_seconds,
    wall_seconds = vae.clock() - t_start, peak_rss_mb = experiment.peak_rss_mb(),
  }
  results.write_summary(out .. "/summary.tsv", meta, summary,
    { "recon_mse", "spearman_abs", "active_units", "nn_agreement" })

  -- the result line goes to stdout, --quiet or not (quiet silences progress)
  io.stdout:write(string.format("config %s seed %d backend %s: loss %.5f  val %.5f  recon mse %.5f  |spearman| %.3f  train %.3f s  wall %.3f s (before charts)\n",
    opts.config, opts.seed, opts.backend, final.loss, final.val_loss, recon_mse, rho, train_seconds,
    summary.wall_seconds))

  if not opts["no-charts"] then
    local title = string.format("s-curve config %s (seed %d, %s)", opts.config, opts.seed, opts.backend)
    local head = plot.tsv .. "\n" .. plot.viridis .. "\n"
    local glo, ghi = span(gmu)
    local dlo, dhi = span(mu1)
    local charts = {
      loss = plot.loss_chart { title = title .. ": loss per example", epochs = epochs,
        val_title = "validation (the training set)",
        ylabel = cfg.likelihood == "mse" and "summed squared error per example"
          or "binary cross-entropy + KL (nats per example)" },
      embedding = head .. string.format([[
set title "%s: data coloured by encoder mean%s"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
set cblabel "mean of z_1"
plot 'embedding.tsv' using 1:2:3 with points pt 7 ps 0.8 palette notitle]], title, collapse_note(dlo, dhi)),
      full_embedding = head .. string.format([[
set title "%s: encoder mean over the unit square%s"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [0:1]; set yrange [0:1]
set cblabel "mean of z_1"
set key outside below
plot 'full_embedding.tsv' using 1:2:3 with image notitle, \
     'embedding.tsv' using 1:2 with points pt 6 ps 0.5 lc rgb 'white' title 'data']], title, collapse_note(glo, ghi)),
      prediction = head .. string.format([[
set title "%s: decoder output for z_1 in [%.3g, %.3g]\n(the encoder means' range, widened 5%%)"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set cblabel "z_1"
set key outside below
plot 'embedding.tsv' using 1:2 with points pt 7 ps 0.4 lc rgb '#bbbbbb' title 'data', \
     'prediction.tsv' using 2:3:1 with points pt 7 ps 1 palette title 'decoded']], title, zlo, zhi),
      inout = head .. string.format([[
set title "%s: data and its encode-decode image"
set xlabel "X_0"; set ylabel "X_1"; set size ratio -1
set xrange [-0.05:1.05]; set yrange [-0.05:1.05]
set key outside below
plot 'inout.tsv' using 1:2 with points pt 7 ps 0.6 lc rgb '#1f77b4' title 'original', \
     '' using 3:4 with points pt 7 ps 0.6 lc rgb '#ff7f0e' title 'after encode/decode']], title),
    }
    for _, name in ipairs { "loss", "embedding", "full_embedding", "prediction", "inout" } do
      local ok, perr = plot.draw(out, name, charts[name], meta)
      if not ok then io.stderr:write("warning: chart ", name, " not drawn: ", perr, "\n") end
    end
  end
  model:close()
  summary.out = final_out
  results.finish_run(out, final_out)
  io.stdout:write("wrote ", experiment.display(final_out), "/ (", why, ")\n")
  return summary
end

if experiment.is_main() then os.exit(experiment.main(M, arg)) end
return M
