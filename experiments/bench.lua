-- `make bench`: compares the backends layer by layer and end to end, against the
-- machine's measured peak. run(opts) writes machine.tsv, layers.tsv, library.tsv,
-- training.tsv and two charts (layers.png, training.png, with their gnuplot
-- scripts and .dat tables) into the output folder: results/bench/ for the full
-- default run, results/scratch/bench/ for --quick or other options, or --out.
local script_dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = script_dir .. "/lib/?.lua;" .. package.path
local experiment = require "experiment"
local results = require "results"
local plot = require "plot"
local stats = require "stats"
local mnist_data = require "mnist_data"
local vae = experiment.load_vae()

local M = { vae = vae }

local usable = {}
for _, b in ipairs(vae.backends()) do usable[#usable + 1] = b.name end

local function backend_list(v)
  local list = {}
  if type(v) == "table" then v = table.concat(v, ",") end -- a list from an in-process caller
  for name in tostring(v):gmatch("[^,%s]+") do
    local ok = experiment.one_of(usable)(name)
    if not ok then return nil, "unknown or unusable backend '" .. name .. "' (usable: " .. table.concat(usable, ", ") .. ")" end
    list[#list + 1] = name
  end
  if #list == 0 then return nil, "no backends named" end
  return list
end

M.usage = [[
usage: lua experiments/bench.lua [options]     (or: make bench [QUICK=1] [THREADS=N] ...)

Checks every backend against naive on each layer shape the experiments use, then
times it: dense forward, backward-weights and backward-data, on 1 thread and on
--threads; a training epoch of the 784-400-20 VAE on MNIST (batch 128, the 60000
training images when data/mnist or $MNIST_DIR holds them, else 60000 rows of
uniform [0,1] stand-in data: the bench does not fetch MNIST) and the
s-curve config A (500 epochs of 300 points); and each backend's dense ops for a
784-400-20 training step against its library's raw sgemm on the same products.
Writes machine.tsv, layers.tsv, library.tsv, training.tsv and the charts
layers.png and training.png (with their .gp scripts and .dat tables) into the
output folder: results/bench/ for the full run with the default options,
results/scratch/bench/ (git-ignored) for --quick or any other options, or --out.]]

M.spec = {
  { name = "backends", default = table.concat(usable, ","), help = "comma-separated backends to time", check = backend_list },
  { name = "threads", default = experiment.cores(), help = "threads for the multi-threaded runs", check = experiment.positive_int },
  { name = "repeats", default = 7, help = "timed repeats per op (the median is reported)", check = experiment.positive_int },
  { name = "quick", flag = true, help = "fewer repeats, all-threads only, shorter training runs (< 1 minute)" },
  { name = "out", neutral = true, help = "output folder (default: see above)" },
  { name = "no-charts", flag = true, neutral = true, help = "write the tables only" },
}

function M.run(given)
  local opts = experiment.check_options(M.spec, given)
  local out, why = experiment.output_dir(M.spec, opts, "bench")
  if type(opts.backends) == "string" then opts.backends = backend_list(opts.backends) end

  local QUICK = opts.quick
  local REPEATS = QUICK and math.min(opts.repeats, 3) or opts.repeats
  local MIN_SECONDS = QUICK and 0.002 or 0.01
  local THREADS = opts.threads
  local thread_settings = QUICK and { THREADS } or (THREADS == 1 and { 1 } or { 1, THREADS })
  experiment.mkdir(out)
  local t_start = vae.clock()
  local function say(...) io.stderr:write(string.format(...), "\n") end
  -- Lets the previous backend's idle threads (OpenBLAS, OpenMP, the avx2 pool) go to
  -- sleep before the next one is timed: spinning threads steal a 2-core machine.
  local function settle() os.execute("sleep 0.3") end

  local meta = { experiment = "bench", backend = table.concat(opts.backends, ","),
                 threads = THREADS, repeats = REPEATS, quick = QUICK and "yes" or "no" }

  -- ---------- the machine ----------


  local failed = {} -- what failed its check or could not run, printed at the end
  say("bench: machine peak (register-only FMA loops)")
  local peak = {}
  local machine_rows = {
    { "cpu", experiment.cpu_model(), "" },
    { "flags", experiment.cpu_flags(), "" },
    { "cores_used", THREADS, "" },
  }
  for _, bits in ipairs { 256, 512 } do
    for _, t in ipairs { 1, THREADS } do
      -- a peak is the best seen: the highest of three runs, so a neighbour's burst
      -- on a shared machine does not lower it
      local g, why
      for _ = 1, 3 do
        local gi, w = vae.bench.peak { bits = bits, threads = t, seconds = QUICK and 0.1 or 0.3 }
        if gi and (not g or gi > g) then g = gi end
        why = why or w
      end
      local key = string.format("fma%d_peak_%dt", bits, t)
      if g then peak[key] = g end
      machine_rows[#machine_rows + 1] = { key .. "_gflops", g or "n/a", g and "" or why }
    end
  end
  local PEAK = peak[string.format("fma256_peak_%dt", THREADS)] -- the AVX2 figure every GFLOP/s is read against

  -- the largest sgemm: forward of a 2048 x 2048 x 2048 layer (checked on 256^3 first)
  local big = QUICK and 1024 or 2048
  local best_sgemm, best_backend = nil, nil
  for _, b in ipairs(opts.backends) do
    if b ~= "naive" then
      local small = vae.bench.dense { backend = b, batch = 256, n_in = 256, n_out = 256, threads = THREADS, repeats = 1, warmup = 0, min_seconds = 0 }
      if small and small.ok then
        local r, err = vae.bench.dense { backend = b, batch = big, n_in = big, n_out = big, threads = THREADS, check = false, warmup = 1, repeats = QUICK and 2 or 3, min_seconds = 0 }
        if r then
          local g = 2 * big ^ 3 / r.forward.median / 1e9
          if not best_sgemm or g > best_sgemm then best_sgemm, best_backend = g, b end
        else
          failed[#failed + 1] = string.format("%s sgemm %d^3: %s", b, big, tostring(err))
        end
      end
    end
  end
  machine_rows[#machine_rows + 1] = { string.format("sgemm_%d_gflops", big), best_sgemm or "n/a", best_backend and ("on " .. best_backend .. ", " .. THREADS .. " threads") or "no fast backend" }

  -- ---------- layers ----------

  -- The dense layers of the experiments' models: {model, batch, n_in, n_out, act, count}.
  local MODELS = {
    { name = "scurve 2-100-1", batch = 32, layers = { { 2, 100, "relu" }, { 100, 1, "linear", 2 }, { 1, 100, "relu" }, { 100, 2, "sigmoid" } } },
    { name = "scurve 2-20-20-2", batch = 32, layers = { { 2, 20, "tanh" }, { 20, 20, "tanh" }, { 20, 2, "linear", 2 }, { 2, 20, "tanh" }, { 20, 20, "tanh" }, { 20, 2, "linear" } } },
    { name = "oilflow 12-50-50-2", batch = 1000, layers = { { 12, 50, "relu" }, { 50, 50, "relu" }, { 50, 2, "linear", 2 }, { 2, 50, "relu" }, { 50, 50, "relu" }, { 50, 12, "sigmoid" } } },
    { name = "mnist 784-400-20", batch = 128, layers = { { 784, 400, "relu" }, { 400, 20, "linear", 2 }, { 20, 400, "relu" }, { 400, 784, "sigmoid" } } },
    { name = "mnist 784-500-500-20", batch = 128, layers = { { 784, 500, "elu" }, { 500, 500, "tanh" }, { 500, 20, "linear", 2 }, { 20, 500, "tanh" }, { 500, 500, "elu" }, { 500, 784, "sigmoid" } } },
    { name = "mnist 784-256-2", batch = 100, layers = { { 784, 256, "relu" }, { 256, 2, "linear", 2 }, { 2, 256, "relu" }, { 256, 784, "sigmoid" } } },
  }

  local layer_rows = {}
  local per_layer = {} -- [model][backend][threads] = seconds of one training step's dense ops
  local function flops(batch, n_in, n_out) return 2.0 * batch * n_in * n_out end

  say("bench: layers (%d backends x %d thread settings)", #opts.backends, #thread_settings)
  for _, model in ipairs(MODELS) do
    per_layer[model.name] = {}
    for _, b in ipairs(opts.backends) do
      per_layer[model.name][b] = {}
      for _, t in ipairs(thread_settings) do
        local step = 0
        for li, l in ipairs(model.layers) do
          local n_in, n_out, act, count = l[1], l[2], l[3], l[4] or 1
          local r, err = vae.bench.dense { backend = b, batch = model.batch, n_in = n_in, n_out = n_out, activation = act,
                                           threads = t, repeats = REPEATS, min_seconds = MIN_SECONDS }
          local shape = string.format("%d->%d %s", n_in, n_out, act)
          if not r or not r.ok then
            failed[#failed + 1] = string.format("%s %s %s: %s", b, model.name, shape, r and ("error " .. r.max_error) or err)
            layer_rows[#layer_rows + 1] = { model.name, model.batch, shape, b, t, "failed", r and r.max_error or "n/a" }
            step = nil -- a step with a failed layer has no total
          else
            local f = flops(model.batch, n_in, n_out)
            local row = { model.name, model.batch, shape, b, t, "ok", r.max_error }
            -- GFLOP/s of a time: n/a for the backward-data time when noise made it 0
            local function rate(secs) return secs > 0 and f / secs / 1e9 or "n/a" end
            for _, op in ipairs { "forward", "weights", "data" } do
              local s = r[op]
              row[#row + 1] = s.median * 1e6
              row[#row + 1] = rate(s.median)
              row[#row + 1] = rate(s.max) -- slowest repeat
              row[#row + 1] = rate(s.min) -- fastest repeat
            end
            -- the whole layer: forward + backward (the first layer needs no input gradient)
            local secs = r.forward.median + r.weights.median + (li > 1 and r.data.median or 0)
            row[#row + 1] = f * (li > 1 and 3 or 2) / secs / 1e9
            row[#row + 1] = PEAK and row[#row] / PEAK or "n/a"
            layer_rows[#layer_rows + 1] = row
            if step then step = step + secs * count end
          end
        end
        per_layer[model.name][b][t] = step
      end
    end
    say("  %-22s done (%.0f s)", model.name, vae.clock() - t_start)
  end

  -- ---------- the layer machinery against raw library calls ----------

  -- the dense products of one 784-400-20 training step (the heads as one 400->40
  -- layer; no input gradient for the first layer: 11 products)
  say("bench: backends against their raw library sgemm")
  local STEP = { { 784, 400, "relu" }, { 400, 40, "linear" }, { 20, 400, "relu" }, { 400, 784, "sigmoid" } }
  local library_rows = {}
  for _, b in ipairs(opts.backends) do
    if b ~= "naive" then
      settle()
      for _, t in ipairs(thread_settings) do
        local r, err = vae.bench.step { backend = b, batch = 128, layers = STEP, threads = t, repeats = QUICK and 5 or 21 }
        if not r then
          failed[#failed + 1] = b .. " step: " .. tostring(err)
        else
          library_rows[#library_rows + 1] = { b, t, r.seconds * 1e3, r.flops / r.seconds / 1e9,
            r.raw_seconds and r.raw_seconds * 1e3 or "n/a", r.raw_seconds and r.flops / r.raw_seconds / 1e9 or "n/a",
            r.raw_seconds and r.seconds / r.raw_seconds - 1 or "n/a", PEAK and r.flops / r.seconds / 1e9 / PEAK or "n/a" }
        end
      end
    end
  end

  -- ---------- training ----------

  say("bench: training")
  local train_rows = {}
  local MNIST_ROWS = 60000
  -- Real MNIST when it is here (bytes, scaled per batch, as experiments/mnist.lua
  -- trains); stand-in data otherwise: a dense VAE's time hardly depends on values.
  local mnist_x, mnist_source
  local loaded = mnist_data.present(mnist_data.dir()) and mnist_data.load(mnist_data.dir(), false)
  if loaded then
    mnist_x, mnist_source = loaded.train, "MNIST training images"
  else
    mnist_x = vae.data.uniform { rows = MNIST_ROWS, cols = 784, seed = 1 }.x
    mnist_source = "uniform [0,1] stand-in data (MNIST not found; make mnist)"
  end
  local function mnist_rows(last)
    return mnist_x:subset(1, last)
  end
  say("  MNIST-sized epoch on %s", mnist_source)
  local TRAIN_REPEATS = QUICK and 1 or 3
  -- the flops of one 784-400-20 step's 11 dense products at batch 128 (no input
  -- gradient for the first layer; the heads as one 400->40 layer)
  local MNIST_STEP_FLOPS = 0
  for i, l in ipairs { { 784, 400 }, { 400, 40 }, { 20, 400 }, { 400, 784 } } do
    MNIST_STEP_FLOPS = MNIST_STEP_FLOPS + 2 * 128 * l[1] * l[2] * (i == 1 and 2 or 3)
  end
  vae.set_threads(THREADS) -- process-level, for the models below
  for _, b in ipairs(opts.backends) do
    -- the MNIST epoch in every precision the backend runs here (bf16: backend.h)
    for _, prec in ipairs { "fp32", "bf16" } do
      if vae.backend_usable(b, prec) then
        settle()
        -- naive (and everything in quick mode) trains on a slice and scales to 60000 rows
        local rows = (b == "naive" or QUICK) and 6400 or MNIST_ROWS
        local data = rows == MNIST_ROWS and mnist_x or mnist_rows(rows)
        local m = assert(vae.model { input = 784, latent = 20, hidden = { 400 }, activation = "relu", output = "sigmoid",
                                     likelihood = "bernoulli", backend = b, precision = prec, seed = 1 })
        -- one warm-up epoch on a small slice (primitives, packing buffers, pages), then
        -- the median of TRAIN_REPEATS epochs
        m:fit(mnist_rows(1280), { epochs = 1, batch = 128 })
        -- the step-phase profile (harness/clock.h): time inside the dense layers and
        -- Adam, on the monotonic clock, during the timed epochs themselves
        vae.bench.profile(true)
        local h, err = m:fit(data, { epochs = TRAIN_REPEATS, batch = 128 })
        local prof = vae.bench.profile(false)
        m:close()
        local steps = math.ceil(MNIST_ROWS / 128)
        if not h then
          failed[#failed + 1] = b .. " " .. prec .. " mnist training: " .. tostring(err)
        else
          local secs = {}
          for i, rec in ipairs(h) do secs[i] = rec.seconds end
          local epoch = stats.median(secs) * MNIST_ROWS / rows
          local total = 0
          for _, s in ipairs(secs) do total = total + s end
          -- floors: the step's dense products timed alone (the layer table), times the
          -- steps; and the step's flops at the FMA peak
          -- (the layer table and the peak are fp32's: no floors for bf16 rows)
          local dense = prec == "fp32" and per_layer["mnist 784-400-20"][b][THREADS]
          local gemm_floor = dense and dense * steps or "n/a"
          local peak_floor = PEAK and prec == "fp32" and MNIST_STEP_FLOPS * steps / (PEAK * 1e9) or "n/a"
          local inside = prof.dense_forward + prof.dense_backward
          train_rows[#train_rows + 1] = { "mnist 784-400-20 epoch (batch 128, 60000 rows)", b, prec, THREADS, epoch,
            (rows == MNIST_ROWS and "median of %d epochs on %s" or "median of %d epochs of 6400 rows of %s, scaled"):format(TRAIN_REPEATS, mnist_source),
            math.max(0, 1 - inside / total), prof.adam / total, gemm_floor, peak_floor }
        end
      end
    end

    local sc = vae.data.scurve { n = 300, seed = 1 }
    local epochs = QUICK and 100 or 500
    local runs, serr, sprof = {}, nil, {}
    for r = 1, TRAIN_REPEATS do
      local ms = assert(vae.model { input = 2, latent = 1, hidden = { 100 }, activation = "relu", output = "sigmoid",
                                    likelihood = "bernoulli", dropout = 0.2, backend = b, seed = 1 })
      vae.bench.profile(true)
      local t0 = vae.clock()
      local ok, e = ms:fit(sc, { epochs = epochs, batch = 32 })
      runs[r] = vae.clock() - t0
      local p = vae.bench.profile(false)
      sprof[r] = { inside = p.dense_forward + p.dense_backward, adam = p.adam }
      ms:close()
      if not ok then serr = e end
    end
    if serr then
      failed[#failed + 1] = b .. " s-curve training: " .. tostring(serr)
    else
      local wall = stats.median(runs) * 500 / epochs
      local dense = per_layer["scurve 2-100-1"][b][THREADS]
      local total, inside, adam = 0, 0, 0
      for r = 1, #runs do total, inside, adam = total + runs[r], inside + sprof[r].inside, adam + sprof[r].adam end
      train_rows[#train_rows + 1] = { "scurve config A, 500 epochs (wall)", b, "fp32", THREADS, wall,
        QUICK and "1 run of 100 epochs, scaled" or ("median of %d runs"):format(TRAIN_REPEATS),
        math.max(0, 1 - inside / total), adam / total, dense and dense * 10 * 500 or "n/a", "n/a" } -- 10 steps an epoch
    end
    say("  %-10s done (%.0f s)", b, vae.clock() - t_start)
  end

  -- ---------- tables ----------

  results.write_tsv(out .. "/machine.tsv", meta, { "quantity", "value", "note" }, machine_rows)
  local lcols = { "model", "batch", "layer", "backend", "threads", "check", "max_error" }
  for _, op in ipairs { "forward", "weights", "data" } do
    for _, c in ipairs { "us", "gflops", "gflops_slowest", "gflops_fastest" } do lcols[#lcols + 1] = op .. "_" .. c end
  end
  lcols[#lcols + 1] = "layer_gflops"
  lcols[#lcols + 1] = "fraction_of_avx2_peak"
  results.write_tsv(out .. "/layers.tsv", meta, lcols, layer_rows)
  results.write_tsv(out .. "/library.tsv", meta,
    { "backend", "threads", "step_ms", "step_gflops", "raw_sgemm_ms", "raw_sgemm_gflops", "loss_to_raw", "fraction_of_avx2_peak" },
    library_rows)
  results.write_tsv(out .. "/training.tsv", meta,
    { "run", "backend", "precision", "threads", "seconds", "how", "share_outside_dense", "share_adam", "gemm_floor_s", "fma_peak_floor_s" }, train_rows)

  -- ---------- printed summary ----------

  print(string.format("machine: %s; AVX2 FMA peak %.0f GFLOP/s on %d threads; sgemm %d^3 %.0f GFLOP/s (%s)",
    experiment.cpu_model(), PEAK or 0, THREADS, big, best_sgemm or 0, best_backend or "-"))
  print(string.format("\n%-22s %-16s %s", "model", "layer", table.concat(opts.backends, "  ")))
  for _, model in ipairs(MODELS) do
    for _, l in ipairs(model.layers) do
      local shape = string.format("%d->%d %s", l[1], l[2], l[3])
      local cells = {}
      for _, b in ipairs(opts.backends) do
        local v = "failed"
        for _, row in ipairs(layer_rows) do
          if row[1] == model.name and row[3] == shape and row[4] == b and row[5] == THREADS and row[6] == "ok" then
            v = string.format("%.1f", row[#row - 1])
          end
        end
        cells[#cells + 1] = string.format("%8s", v)
      end
      print(string.format("%-22s %-16s %s", model.name, shape, table.concat(cells, " ")))
    end
  end
  print("(GFLOP/s of forward + backward per layer, " .. THREADS .. " threads)\n")
  for _, r in ipairs(library_rows) do
    print(string.format("784-400-20 step, 11 dense products, %-9s %d threads: %6.1f GFLOP/s%s", r[1], r[2], r[4],
      type(r[6]) == "number" and string.format("; raw library sgemm %.1f GFLOP/s (the backend loses %.1f%%)", r[6], 100 * r[7]) or ""))
  end
  print("")
  for _, r in ipairs(train_rows) do
    local function pct(v) return type(v) == "number" and string.format("%.0f%%", 100 * v) or v end
    local function secs(v) return type(v) == "number" and string.format("%.3f s", v) or v end
    print(string.format("%-48s %-9s %s %7.3f s  %s  (outside dense ops: %s, Adam %s; GEMM floor %s, FMA-peak floor %s)",
      r[1], r[2], r[3], r[5], r[6], pct(r[7]), pct(r[8]), secs(r[9]), secs(r[10])))
  end
  for _, f in ipairs(failed) do print("FAILED: " .. f) end

  -- ---------- charts ----------

  if not opts["no-charts"] then
    -- layers.png: GFLOP/s of each MNIST-sized layer per backend (all threads), grouped bars
    local dat = { "# layer\t" .. table.concat(opts.backends, "\t") }
    for _, model in ipairs(MODELS) do
      if model.name:match("^mnist") then
        for _, l in ipairs(model.layers) do
          local shape = string.format("%d->%d %s", l[1], l[2], l[3])
          local cells = { string.format('"%s %s"', model.name:match("%S+$"), shape) }
          for _, b in ipairs(opts.backends) do
            local v = 0
            for _, row in ipairs(layer_rows) do
              if row[1] == model.name and row[3] == shape and row[4] == b and row[5] == THREADS and row[6] == "ok" then v = row[#row - 1] end
            end
            cells[#cells + 1] = string.format("%.2f", v)
          end
          dat[#dat + 1] = table.concat(cells, "\t")
        end
      end
    end
    results.write_text(out .. "/layers.dat", meta, table.concat(dat, "\n") .. "\n")
    -- the y range from the data and the peak, so the peak line shows and no bar is clipped
    local top = PEAK or 0
    for _, row in ipairs(layer_rows) do
      if row[5] == THREADS and row[6] == "ok" and row[1]:match("^mnist") then top = math.max(top, row[#row - 1]) end
    end
    local plots = {}
    for i, b in ipairs(opts.backends) do plots[i] = string.format("'layers.dat' using %d:xtic(1) title '%s'", i + 1, b) end
    local ok, err = plot.draw(out, "layers", table.concat({
      "set terminal pngcairo size 1100,600 enhanced font 'DejaVu Sans,10'",
      string.format("set title 'Dense layers (forward + backward), %d threads: GFLOP/s per backend'", THREADS),
      "set style data histograms", "set style histogram clustered gap 1", "set style fill solid 0.8 border -1",
      "set boxwidth 0.9", "set xtics rotate by -35 font ',8'", "set ylabel 'GFLOP/s'", "set grid ytics",
      "set key outside below", string.format("set yrange [0:%.1f]", math.max(top, 1) * 1.08), "set bmargin 9", "set rmargin 9",
      PEAK and string.format("set arrow from graph 0, first %.1f to graph 1, first %.1f nohead dt 2 lc rgb 'gray30'\nset label 'AVX2 FMA peak' at graph 0.75, first %.1f offset 0,0.6", PEAK, PEAK, PEAK) or "",
      "plot " .. table.concat(plots, ", "),
    }, "\n"), meta)
    if not ok then say("warning: %s", err) end

    -- training.png: seconds per MNIST-sized epoch (fp32 and bf16) and per s-curve
    -- run, per backend; NaN (gnuplot skips it) where a backend has no bf16
    local tdat = { "# backend\tmnist_epoch_fp32_s\tmnist_epoch_bf16_s\tscurve_500_epochs_s" }
    local any_bf16 = false
    for _, r in ipairs(train_rows) do any_bf16 = any_bf16 or r[3] == "bf16" end
    for _, b in ipairs(opts.backends) do
      local e = { fp32 = "NaN", bf16 = "NaN" }
      local s = "NaN"
      for _, r in ipairs(train_rows) do
        if r[2] == b and r[1]:match("^mnist") then e[r[3]] = string.format("%.4f", r[5]) end
        if r[2] == b and r[1]:match("^scurve") then s = string.format("%.4f", r[5]) end
      end
      tdat[#tdat + 1] = string.format("%s\t%s\t%s\t%s", b, e.fp32, e.bf16, s)
    end
    results.write_text(out .. "/training.dat", meta, table.concat(tdat, "\n") .. "\n")
    ok, err = plot.draw(out, "training", table.concat({
      "set terminal pngcairo size 1000,500 enhanced font 'DejaVu Sans,11'",
      "set multiplot layout 1,2",
      "set style data histograms", "set style histogram clustered gap 1", "set style fill solid 0.8 border -1",
      "set grid ytics", "set yrange [0:*]", "set logscale y", "set yrange [*:*]", "set key top right",
      string.format("set title 'MNIST-sized 784-400-20 epoch (batch 128, %d threads)'", THREADS),
      "set ylabel 'seconds (log scale)'",
      "plot 'training.dat' using 2:xtic(1) title 'fp32' lc rgb '#3b528b'"
        .. (any_bf16 and ", '' using 3 title 'bf16' lc rgb '#e07b39'" or ""),
      "set title 's-curve config A, 500 epochs'", "set boxwidth 0.7", "set style histogram clustered gap 1",
      "plot 'training.dat' using 4:xtic(1) notitle lc rgb '#5ec962'",
      "unset multiplot",
    }, "\n"), meta)
    if not ok then say("warning: %s", err) end
  end
  say("bench: done in %.0f s; wrote %s/ (%s)", vae.clock() - t_start, experiment.display(out), why)
  return { failed = #failed > 0, failures = failed, out = out, peak_gflops = PEAK, sgemm_gflops = best_sgemm }
end

if experiment.is_main() then os.exit(experiment.main(M, arg)) end
return M
