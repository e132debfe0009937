# The scaling plots of Documentation/memtrack/benchmarks.rst, drawn from
# the data files tools/bench/run writes.  Run by tools/bench/run as
#   gnuplot -e "data='build/bench'; out='Documentation/memtrack'" tools/bench/plot.gp
set terminal svg size 720,520 dynamic font "sans,12"
set termoption noenhanced
set grid
set key below left Left reverse
set logscale xy
set style data linespoints

# Full read: time against the references in the system (1,000 processes).
set output out.'/scaling-read.svg'
set title "Reading what every process holds (1,000 processes)"
set xlabel "dma-buf references (fds)"
set ylabel "guest time (ms)"
set format x "%.0s%c"
set xrange [700:1.4e6]
plot data.'/scale-read.dat' using 1:($5/1e6) title "C scan of /proc (fd links, fdinfo, maps)" pt 7, \
     '' using 1:($7/1e6) title "BPF task_file iterator, a command that loads it" pt 5, \
     '' using 1:($8/1e6) title "BPF iterator, a command opening it pinned" pt 6, \
     '' using 1:($6/1e6) title "BPF iterator, loaded, in process" pt 4, \
     '' using 1:($4/1e6) title "mtstat -j" pt 9 lw 3 lc rgb "#d00000", \
     '' using 1:($2/1e6) title "libmemtrack-nl, every buffer of every process" pt 11, \
     '' using 1:($3/1e6) title "proc-refs-get dump, received, not parsed" pt 13

# One process: time against the number of processes in the system.
set output out.'/scaling-pid.svg'
set title "Asking about one process (10 dma-bufs) as the system grows"
set xlabel "processes in the system"
set ylabel "guest time (µs)"
set format x "%.0f"
set xrange [7:14000]
plot data.'/scale-pid.dat' using 1:($4/1e3) title "C scan of its /proc entries (in the caller)" pt 7, \
     '' using 1:($3/1e3) title "mtstat -j -p PID (a command)" pt 9, \
     '' using 1:($2/1e3) title "libmemtrack-nl mtnl_proc_get()" pt 11

# Fork: fork + exit + wait against the distinct dma-bufs the parent holds.
set output out.'/scaling-fork.svg'
set title "fork + exit + wait against the dma-bufs held (one per fd)"
set xlabel "distinct dma-bufs held (0 drawn at 1)"
set ylabel "guest time per fork + exit + wait (µs)"
set xrange [0.7:14000]
set xtics ("0" 1, "10" 10, "100" 100, "1k" 1000, "10k" 10000)
plot data.'/scale-fork.dat' using ($1 < 1 ? 1 : $1):2 title "vanilla" pt 7, \
     '' using ($1 < 1 ? 1 : $1):3 title "memtrack" pt 9, \
     '' using ($1 < 1 ? 1 : $1):4 title "memtrack=off" pt 11
