-- Charts: each chart is a gnuplot script written (atomically, with the '#'
-- header) next to the tables it reads, then run, so a chart can always be
-- redrawn from the committed tables with `gnuplot NAME.gp` inside its folder.
-- The shared charts: the loss per epoch (from history.tsv) and points
-- coloured by a class column with a legend naming the classes.
local experiment = require "experiment"
local results = require "results"
local M = {}

M.terminal = "set terminal pngcairo size 800,600 enhanced font 'DejaVu Sans,11'"

-- viridis, defined by points (gnuplot 5.4 has no built-in viridis)
M.viridis = "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')"

-- Ten distinct colours for classes (matplotlib's tab10).
M.class_colours = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf" }

M.tsv = "set datafile separator tab\nset datafile columnheaders"

-- A string for a gnuplot script: double-quoted, with \ and " escaped.
function M.quote(s)
  return '"' .. tostring(s):gsub('[\\"]', "\\%0") .. '"'
end

function M.available()
  local ok = os.execute("command -v gnuplot >/dev/null 2>&1")
  return ok == true or ok == 0
end

-- Writes dir/name.gp (body drawn into name.png) and runs gnuplot in dir.
-- Returns true, or false and a message. meta: the '#' header (optional).
function M.draw(dir, name, body, meta)
  local tmp_png = results.temp_name(name .. ".png")
  local script = table.concat({
    "# drawn by experiments/lib/plot.lua; redraw with: gnuplot " .. name .. ".gp",
    body:find("set terminal", 1, true) and "" or M.terminal,
    -- name.png when redrawn by hand; the run here passes a temporary, renamed
    -- into place once gnuplot succeeds, so a killed run leaves no torn PNG
    "if (!exists(\"output_file\")) output_file = " .. M.quote(name .. ".png"),
    "set output output_file",
    body,
    "unset output",
  }, "\n") .. "\n"
  local ok, err = pcall(results.write_text, dir .. "/" .. name .. ".gp", meta, script)
  if not ok then return false, err end
  if not M.available() then return false, "gnuplot is not installed" end
  local run = os.execute("cd -- " .. experiment.shell_quote(dir) .. " && gnuplot -e "
    .. experiment.shell_quote("output_file = " .. M.quote(tmp_png)) .. " "
    .. experiment.shell_quote(name .. ".gp"))
  if run ~= true and run ~= 0 or not os.rename(dir .. "/" .. tmp_png, dir .. "/" .. name .. ".png") then
    os.remove(dir .. "/" .. tmp_png)
    return false, "gnuplot failed on " .. experiment.display(dir .. "/" .. name .. ".gp")
  end
  results.written[#results.written + 1] = dir .. "/" .. name .. ".png"
  return true
end

-- The x range of a chart over epochs 1..n: a single epoch gets a range around
-- it (gnuplot warns about an empty x range otherwise).
function M.epoch_range(n)
  if n <= 1 then return "set xrange [0.5:1.5]; set xtics 1" end
  return string.format("set xrange [1:%d]", n)
end

-- The loss chart from history.tsv (the shared columns): train and validation
-- loss per epoch. c = { title=, ylabel= (which loss, in which unit), epochs=,
-- val_title= (the validation set's name), val_every= (epochs between
-- validations; points then, not only a line) }.
function M.loss_chart(c)
  local every = c.val_every or 1
  local val_style = (every > 1 or c.epochs <= 1) and "linespoints lw 2 pt 7 ps 0.6" or "lines lw 2"
  return table.concat({
    M.tsv,
    "set title " .. M.quote(c.title),
    "set xlabel \"epoch\"; set ylabel " .. M.quote(c.ylabel),
    M.epoch_range(c.epochs),
    "set key outside below",
    "set grid",
    "plot 'history.tsv' using \"epoch\":\"train_loss\" with " .. (c.epochs <= 1 and "linespoints lw 2 pt 7 ps 0.6" or "lines lw 2") .. " title 'train', \\",
    string.format("     '' using \"epoch\":\"val_loss\" with %s title %s", val_style,
      M.quote((c.val_title or "validation")
        .. (every > 1 and string.format(" (every %d epochs)", c.val_every) or ""))),
  }, "\n")
end

-- Points of a table coloured by a class column, one legend entry per class.
-- c = { file=, x=, y=, class= (column names), classes = { {value=, name=}, ... },
-- title=, xlabel=, ylabel=, point_size= }.
function M.class_chart(c)
  local series = {}
  for i, cl in ipairs(c.classes) do
    series[i] = string.format("%s using \"%s\":(column(\"%s\") == %s ? column(\"%s\") : 1/0) "
      .. "with points pt 7 ps %s lc rgb '%s' title %s",
      i == 1 and M.quote(c.file) or "''", c.x, c.class, tostring(cl.value), c.y,
      tostring(c.point_size or 0.3), M.class_colours[(i - 1) % #M.class_colours + 1], M.quote(cl.name))
  end
  return table.concat({
    M.tsv,
    "set title " .. M.quote(c.title),
    "set xlabel " .. M.quote(c.xlabel) .. "; set ylabel " .. M.quote(c.ylabel),
    "set key outside right top title " .. M.quote(c.class) .. " box",
    "plot " .. table.concat(series, ", \\\n     "),
  }, "\n")
end

return M
