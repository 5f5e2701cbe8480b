-- The s-curve ablation over seeds: the notebook's configs A..I and three runs
-- it lacks (A with KL warm-up, A with free bits, A with the continuous
-- Bernoulli), 10 seeds each. After the merge, report() writes the grids of the
-- four figures at each config's median seed and the rank tests of the
-- notebook's two conclusions (tests.tsv, tests.md).
local configs = {}
for _, c in ipairs { "A", "B", "C", "D", "E", "F", "G", "H", "I" } do
  configs[#configs + 1] = { name = c, config = c }
end
configs[#configs + 1] = { name = "A+warmup", config = "A", warmup = 250 }     -- KL weight 0 -> 1 over half the run
configs[#configs + 1] = { name = "A+freebits", config = "A", free_bits = 1 }  -- 1 nat per latent dim
configs[#configs + 1] = { name = "A+cbern", config = "A", likelihood = "cbernoulli" }

-- epochs per config (the cost of a job, for the order jobs start in)
local EPOCHS = { A = 500, B = 500, C = 50, D = 100, E = 100, F = 100, G = 100, H = 1000, I = 1000 }

local KINDS = { "embedding", "full_embedding", "prediction", "inout" }

local function report(ctx)
  local sweep, out, merged, stats, results, experiment, plot =
    ctx.sweep, ctx.out, ctx.merged, ctx.stats, ctx.results, ctx.experiment, ctx.plot
  local values = function(cfg, m) return (merged.by_config[cfg] or {})[m] or {} end

  -- the median seed of each config by |Spearman| (the embedding figures are what
  -- the notebook reads its conclusions from); its four chart tables copied to
  -- median/<config>/ so the grids redraw from committed files
  local panels = {}
  for _, c in ipairs(sweep.configs) do
    local pick = ctx.median_job(c.name, "spearman_abs")
    if pick then
      local dir = out .. "/median/" .. c.name
      experiment.mkdir(dir)
      for _, kind in ipairs(KINDS) do
        local f = io.open(ctx.job_dir(pick.job) .. "/run/" .. kind .. ".tsv", "rb")
        if f then
          local text = f:read("a")
          f:close()
          results.write_file(dir .. "/" .. kind .. ".tsv", { text })
        end
      end
      panels[#panels + 1] = { name = c.name, seed = pick.job.seed, rho = tonumber(pick.row.spearman_abs) or 0 }
    end
  end
  if not ctx.no_charts and #panels > 0 then
    local ncol = 4
    local nrow = (#panels + ncol - 1) // ncol
    local body_of = {
      embedding = function(p)
        return "set xrange [-0.05:1.05]; set yrange [-0.05:1.05]\nplot 'median/" .. p.name
          .. "/embedding.tsv' using 1:2:3 with points pt 7 ps 0.5 palette notitle"
      end,
      full_embedding = function(p)
        return "set xrange [0:1]; set yrange [0:1]\nplot 'median/" .. p.name
          .. "/full_embedding.tsv' using 1:2:3 with image notitle, 'median/" .. p.name
          .. "/embedding.tsv' using 1:2 with points pt 6 ps 0.3 lc rgb 'white' notitle"
      end,
      prediction = function(p)
        return "set xrange [-0.05:1.05]; set yrange [-0.05:1.05]\nplot 'median/" .. p.name
          .. "/embedding.tsv' using 1:2 with points pt 7 ps 0.3 lc rgb '#bbbbbb' notitle, 'median/"
          .. p.name .. "/prediction.tsv' using 2:3:1 with points pt 7 ps 0.6 palette notitle"
      end,
      inout = function(p)
        return "set xrange [-0.05:1.05]; set yrange [-0.05:1.05]\nplot 'median/" .. p.name
          .. "/inout.tsv' using 1:2 with points pt 7 ps 0.4 lc rgb '#1f77b4' notitle, '' using 3:4 with points pt 7 ps 0.4 lc rgb '#ff7f0e' notitle"
      end,
    }
    local what = { embedding = "data coloured by the encoder mean of z_1",
      full_embedding = "encoder mean of z_1 over the unit square",
      prediction = "decoder output along z_1 (grey: data)",
      inout = "data (blue) and its encode-decode image (orange)" }
    for _, kind in ipairs(KINDS) do
      local lines = {
        string.format("set terminal pngcairo size %d,%d enhanced font 'DejaVu Sans,9'", 300 * ncol, 300 * nrow + 40),
        plot.tsv, plot.viridis, "unset colorbox", "set size ratio -1", "unset xtics; unset ytics",
        string.format("set multiplot layout %d,%d title %s", nrow, ncol,
          plot.quote("s-curve sweep: " .. what[kind] .. ", each config at its median seed by |Spearman|")),
      }
      for _, p in ipairs(panels) do
        lines[#lines + 1] = "set title " .. plot.quote(string.format("%s (seed %d, |rho| %.2f)", p.name, p.seed, p.rho))
        lines[#lines + 1] = body_of[kind](p)
      end
      lines[#lines + 1] = "unset multiplot"
      local ok, err = plot.draw(out, "grid_" .. kind, table.concat(lines, "\n"), nil)
      if not ok then io.stderr:write("warning: grid ", kind, " not drawn: ", err, "\n") end
    end
  end

  -- The rank tests (Mann-Whitney U, one-sided, seeds as the samples).
  local function pool(names, m)
    local v = {}
    for _, n in ipairs(names) do for _, x in ipairs(values(n, m)) do v[#v + 1] = x end end
    return v
  end
  local rows, md = {}, {}
  local function test(claim, m, a_names, b_names, alternative)
    local a, b = pool(a_names, m), pool(b_names, m)
    if #a == 0 or #b == 0 then return nil end
    local r = stats.mann_whitney(a, b, alternative)
    local row = { claim, m, table.concat(a_names, "+"), table.concat(b_names, "+"), alternative,
      #a, #b, stats.median(a), stats.median(b), r.u, r.p, r.method }
    rows[#rows + 1] = row
    md[#md + 1] = string.format("| %s | %s | %s (%.3g) | %s | %s (%.3g) | %.3g | %.2g (%s) |", claim, m,
      row[3], row[8], alternative == "greater" and ">" or "<", row[4], row[9], r.u, r.p, r.method)
    return r
  end
  local KL = { "A", "B", "C", "D", "E", "F" }
  local NOKL = { "G", "H", "I" }
  -- 1: "with the KL term the fit is poor whatever the likelihood, dropout and
  --    depth": each KL config reconstructs worse than the no-KL configs
  for _, c in ipairs(KL) do test("1", "recon_mse", { c }, NOKL, "greater") end
  -- 2: "without it the 1-D latent recovers the curve far better": 1-D no-KL
  --    (H, I) against 1-D with KL (A, B, C)
  for _, m in ipairs { "spearman_abs", "nn_agreement" } do
    test("2", m, { "H", "I" }, { "A", "B", "C" }, "greater")
    for _, c in ipairs { "A", "B", "C" } do test("2", m, { "H", "I" }, { c }, "greater") end
  end
  -- open questions: does warm-up / free bits / cbernoulli keep the KL term and
  -- still recover the curve? against A, and against the no-KL H
  for _, v in ipairs { "A+warmup", "A+freebits", "A+cbern" } do
    test("3", "recon_mse", { v }, { "A" }, "less")
    test("3", "nn_agreement", { v }, { "A" }, "greater")
    test("3", "spearman_abs", { v }, { "A" }, "greater")
    test("3", "spearman_abs", { v }, { "H" }, "less")
  end
  results.write_tsv(out .. "/tests.tsv", { experiment = "sweep scurve: Mann-Whitney U tests over seeds",
    method = "stats.mann_whitney: exact null distribution without ties, else normal with tie and continuity corrections; one-sided; U = U of the first group" },
    { "claim", "metric", "a", "b", "alternative", "n_a", "n_b", "median_a", "median_b", "u", "p", "method" }, rows)
  results.write_text(out .. "/tests.md", nil, table.concat({
    "Mann-Whitney U over seeds (one-sided; a listed group pools its configs' seeds).",
    "", "| claim | metric | a (median) | | b (median) | U | p |", "|---|---|---|---|---|---|---|",
    table.concat(md, "\n") }, "\n") .. "\n")
end

return {
  experiment = "scurve",
  about = "the s-curve ablation (Keras s-curve notebook, configs A..I) plus A with warm-up, free bits, cbernoulli; 10 seeds",
  seeds = 10,
  -- the sweep draws the charts it needs; validation (on the training set) only
  -- at the end: it does not change training, only history.tsv's rows
  -- the fastest backend built (avx2 where the CPU has it: config B's 40-wide
  -- layers at batch 200 train 5x faster than on naive; results differ from
  -- naive's only by rounding, and the backend is part of the job identity)
  options = { ["no-charts"] = true, backend = require("experiment").fastest(require("experiment").load_vae()) },
  set = { "validate_every=100000" },
  configs = configs,
  metrics = { "train_loss", "val_loss", "recon_mse", "val_kl", "active_units", "spearman_abs", "nn_agreement" },
  cost = function(job) return EPOCHS[job.config.options.config] or 0 end,
  report = report,
}
