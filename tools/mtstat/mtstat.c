// SPDX-License-Identifier: GPL-2.0-only
/*
 * mtstat: which processes keep how much shared-buffer (dma-buf) memory
 * alive.  Reads the memtrack netlink family, or scans procfs on kernels
 * without it.  See mtstat(1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <memtrack-nl.h>

#include "mtstat.h"

#ifndef MTSTAT_VERSION
#define MTSTAT_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
"usage: mtstat [options]             every process holding buffers\n"
"       mtstat -p PID[,PID...]       one row per buffer of these processes\n"
"       mtstat -b                    every buffer in the system\n"
"       mtstat -b ID...              these buffers, with every holder\n"
"\n"
"options:\n"
"  -p, --pid PID[,PID...]   show these processes\n"
"  -b, --buffers            list system-wide buffers (needs CAP_SYS_ADMIN)\n"
"  -t, --tag TAG            only buffers named TAG\n"
"  -e, --exporter NAME      only buffers from exporter NAME\n"
"  -u, --user USER          only processes of USER (name or uid)\n"
"      --by-tag             break process totals down by tag\n"
"      --by-exporter        break process totals down by exporter\n"
"      --by-user            one row per user, with a total row (as smem -u)\n"
"      --by-cgroup          one row per cgroup (containers, services)\n"
"      --prometheus         Prometheus text format, for node_exporter\n"
"      --file PATH          write each snapshot to PATH atomically (with -i:\n"
"                           a textfile collector's .prom file)\n"
"  -s, --sort [-]FIELD      pid comm bufs fds total pss unique mapped hwm\n"
"                           (processes), id size exporter tag fds mapped\n"
"                           holders (buffers); -FIELD reverses\n"
"  -r, --reverse            reverse the sort\n"
"  -n, --top N              only the first N rows\n"
"  -o, --output LIST        text columns, e.g. pid,comm,total (the -s names)\n"
"      --no-headers         rows only: no header line, no summary\n"
"  -j, --json               JSON output, raw integers, every field\n"
"      --pretty             indented JSON (implies --json)\n"
"      --bytes              raw byte counts instead of KiB/MiB/GiB\n"
"  -i, --interval SECONDS   repeat every SECONDS\n"
"  -c, --count N            stop after N repetitions (with -i)\n"
"      --source SOURCE      netlink or procfs (default: netlink, falling\n"
"                           back to procfs when the kernel lacks memtrack)\n"
"  -w, --watch              live event stream (CAP_NET_ADMIN and CAP_SYS_ADMIN)\n"
"      --rcvbuf BYTES       --watch socket buffer (default 4 MiB); smaller\n"
"                           buffers lose events in bursts, then resync\n"
"  -h, --help               this help\n"
"  -V, --version            tool, library and family versions\n"
"\n"
"examples:\n"
"  mtstat                     who holds the most dma-buf memory\n"
"  mtstat -p 1234 --by-tag    one process, per buffer and per tag\n"
"  mtstat -b -s holders       buffers, most shared first\n"
"  mtstat -j | jq .summary    machine-readable\n"
"  mtstat -w -t camera        follow camera buffers as they come and go\n"
"\n"
"exit status: 0 ok, 1 usage, 2 pid not found or not visible,\n"
"             3 permission denied, 4 no source available, 5 other errors\n");
}

static int parse_pids(const char *arg, uint32_t **pids, size_t *n)
{
	char *copy = strdup(arg), *tok, *save = NULL;

	if (!copy)
		return -1;
	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long v;
		uint32_t *np;

		errno = 0;
		v = strtoul(tok, &end, 10);
		if (errno || *end || !*tok || v == 0 || v > INT_MAX) {
			fprintf(stderr, "mtstat: invalid pid '%s'\n", tok);
			free(copy);
			return -1;
		}
		np = realloc(*pids, (*n + 1) * sizeof(*np));
		if (!np) {
			free(copy);
			return -1;
		}
		*pids = np;
		(*pids)[(*n)++] = (uint32_t)v;
	}
	free(copy);
	if (!*n) {
		fprintf(stderr, "mtstat: -p needs at least one pid\n");
		return -1;
	}
	return 0;
}

static int parse_user(const char *arg, uid_t *uid)
{
	struct passwd *pw = getpwnam(arg);
	char *end;
	unsigned long v;

	if (pw) {
		*uid = pw->pw_uid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || !*arg) {
		fprintf(stderr, "mtstat: unknown user '%s'\n", arg);
		return -1;
	}
	*uid = (uid_t)v;
	return 0;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static const char *advice(int code, const char *source)
{
	switch (code) {
	case MTSTAT_EPERM:
		if (!strcmp(source, "procfs"))
			return "procfs shows a process's buffers to callers that may read its "
			       "/proc/PID/fdinfo (ptrace read access: same user and dumpable, "
			       "or CAP_SYS_PTRACE). Run as that user or as root.";
		return "memtrack shows a process to callers that may read its "
		       "/proc/PID/fdinfo (ptrace read access: same user and dumpable, "
		       "or CAP_SYS_PTRACE); the buffer list needs CAP_SYS_ADMIN and CAP_NET_ADMIN. "
		       "Run as that user or as root.";
	case MTSTAT_EUNAVAIL:
		if (!strcmp(source, "procfs"))
			return "procfs must be mounted on /proc.";
		return "boot a kernel with CONFIG_MEMTRACK=y (and without memtrack=off), "
		       "or use --source=procfs.";
	default:
		return NULL;
	}
}

/* Sleep @interval seconds, or until a signal sets *@stop. */
static void sleep_interval(double interval, volatile sig_atomic_t *stop)
{
	struct timespec ts = {
		.tv_sec = (time_t)interval,
		.tv_nsec = (long)((interval - (double)(time_t)interval) * 1e9),
	};

	while (!*stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int mtstat_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "buffers", no_argument, NULL, 'b' },
		{ "tag", required_argument, NULL, 't' },
		{ "exporter", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "by-tag", no_argument, NULL, 'T' },
		{ "by-exporter", no_argument, NULL, 'E' },
		{ "sort", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'P' },
		{ "bytes", no_argument, NULL, 'B' },
		{ "output", required_argument, NULL, 'o' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "top", required_argument, NULL, 'n' },
		{ "no-headers", no_argument, NULL, 'H' },
		{ "by-user", no_argument, NULL, 'U' },
		{ "by-cgroup", no_argument, NULL, 'G' },
		{ "prometheus", no_argument, NULL, 'M' },
		{ "file", required_argument, NULL, 'F' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 'S' },
		{ "watch", no_argument, NULL, 'w' },
		{ "rcvbuf", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct mt_filter filter = { 0 };
	/* A large buffer rides out bursts of events without loss. */
	struct mt_output out = { .rcvbuf = 4 << 20 };
	const char *source = NULL;
	bool buffers = false, watch = false, rcvbuf_set = false;
	double interval = 0;
	long count = -1, round;
	uint32_t *pids = NULL;
	size_t npids = 0;
	int opt, ret = MTSTAT_OK;
	char tmp[PATH_MAX + 8];
	enum mt_view view;
	FILE *sink;

	const char *columns = NULL, *file = NULL;
	uint64_t *ids = NULL;
	size_t nids = 0;
	bool by_user = false, by_cgroup = false, prometheus = false;

	while ((opt = getopt_long(argc, argv, "p:bt:e:u:s:ji:c:whVo:rn:", longopts,
				  NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'p':
			if (parse_pids(optarg, &pids, &npids))
				return MTSTAT_EUSAGE;
			break;
		case 'b': buffers = true; break;
		case 't': filter.tag = optarg; break;
		case 'e': filter.exporter = optarg; break;
		case 'u':
			if (parse_user(optarg, &filter.uid))
				return MTSTAT_EUSAGE;
			filter.has_uid = true;
			break;
		case 'T': out.by_tag = true; break;
		case 'E': out.by_exporter = true; break;
		case 's': out.sort = optarg; break;
		case 'j': out.json = true; break;
		case 'P': out.json = out.pretty = true; break;
		case 'o': columns = optarg; break;
		case 'r': out.reverse = true; break;
		case 'H': out.no_headers = true; break;
		case 'U': by_user = true; break;
		case 'G': by_cgroup = true; break;
		case 'M': prometheus = true; break;
		case 'F': file = optarg; break;
		case 'n': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || v == 0) {
				fprintf(stderr, "mtstat: -n wants a positive number of rows, not '%s'\n",
					optarg);
				return MTSTAT_EUSAGE;
			}
			out.top = v;
			break;
		}
		case 'B': out.bytes = true; break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end || !(interval > 0)) {
				fprintf(stderr, "mtstat: invalid interval '%s'\n", optarg);
				return MTSTAT_EUSAGE;
			}
			break;
		case 'c':
			count = strtol(optarg, &end, 10);
			if (*end || count <= 0) {
				fprintf(stderr, "mtstat: invalid count '%s'\n", optarg);
				return MTSTAT_EUSAGE;
			}
			break;
		case 'S':
			if (strcmp(optarg, "netlink") && strcmp(optarg, "procfs")) {
				fprintf(stderr, "mtstat: --source must be netlink or procfs\n");
				return MTSTAT_EUSAGE;
			}
			source = optarg;
			break;
		case 'w': watch = true; break;
		case 'R': {
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1024 || v > (1L << 30)) {
				fprintf(stderr, "mtstat: --rcvbuf wants bytes from 1024 to 1073741824, not '%s'\n",
					optarg);
				return MTSTAT_EUSAGE;
			}
			out.rcvbuf = (int)v;
			rcvbuf_set = true;
			break;
		}
		case 'h': usage(stdout); return MTSTAT_OK;
		case 'V': {
			struct mtnl *h;

			printf("mtstat %s\nlibmemtrack-nl %s (family version %d)\n",
			       MTSTAT_VERSION, mtnl_version(), MTNL_FAMILY_VERSION);
			if (mtnl_open(&h) == 0) {
				printf("kernel memtrack family version %u\n",
				       mtnl_family_version(h));
				mtnl_close(h);
			} else {
				printf("kernel memtrack family: not available\n");
			}
			return MTSTAT_OK;
		}
		default:
			/* getopt said what was wrong; one line, not the whole help. */
			fprintf(stderr, "Try 'mtstat --help' for more information.\n");
			return MTSTAT_EUSAGE;
		}
	}
	/* mtstat -b ID...: these buffers and who holds them. */
	for (; optind < argc; optind++) {
		unsigned long long v;
		char *end;
		uint64_t *nb;

		errno = 0;
		v = strtoull(argv[optind], &end, 10);
		if (!buffers || errno || *end || !*argv[optind] || !v) {
			fprintf(stderr, "mtstat: unexpected argument '%s' (-b takes buffer ids; try --help)\n",
				argv[optind]);
			free(ids);
			return MTSTAT_EUSAGE;
		}
		nb = realloc(ids, (nids + 1) * sizeof(*nb));
		if (!nb) {
			free(ids);
			return MTSTAT_EFAIL;
		}
		ids = nb;
		ids[nids++] = v;
	}
	if (nids && (columns || out.sort || out.top || out.by_tag || out.by_exporter ||
		     (source && !strcmp(source, "procfs")))) {
		fprintf(stderr, "mtstat: -b ID shows whole buffers from netlink: no -o, -s, -n, --by-tag, --by-exporter or --source=procfs\n");
		free(ids);
		return MTSTAT_EUSAGE;
	}
	if (buffers && pids) {
		fprintf(stderr, "mtstat: -b and -p are different views; pick one\n");
		return MTSTAT_EUSAGE;
	}
	/* One view; --prometheus takes -p to limit its series. */
	if (by_user + by_cgroup + buffers + prometheus + (pids && !prometheus) > 1) {
		fprintf(stderr, "mtstat: -b, -p, --by-user, --by-cgroup and --prometheus are different views; pick one (--prometheus takes -p)\n");
		return MTSTAT_EUSAGE;
	}
	if (prometheus && (out.json || columns || out.sort || out.top || out.no_headers)) {
		fprintf(stderr, "mtstat: --prometheus has its own format: no -j, -o, -s, -n or --no-headers\n");
		return MTSTAT_EUSAGE;
	}
	if ((by_user || by_cgroup) && (out.by_tag || out.by_exporter || columns || out.sort)) {
		fprintf(stderr, "mtstat: --by-user and --by-cgroup sort by bytes held and take no -o, -s, --by-tag or --by-exporter\n");
		return MTSTAT_EUSAGE;
	}
	if (file && watch) {
		fprintf(stderr, "mtstat: --file writes snapshots; --watch streams to standard output\n");
		return MTSTAT_EUSAGE;
	}
	if (out.by_tag && out.by_exporter) {
		fprintf(stderr, "mtstat: --by-tag and --by-exporter exclude each other\n");
		return MTSTAT_EUSAGE;
	}
	view = buffers ? MT_VIEW_BUFFERS : pids ? MT_VIEW_PIDS : MT_VIEW_PROCESSES;
	if (out.sort && !mt_sort_field_valid(out.sort, view)) {
		fprintf(stderr, "mtstat: cannot sort %s by '%s' (try --help)\n",
			buffers || pids ? "buffers" : "processes", out.sort);
		return MTSTAT_EUSAGE;
	}
	if (columns) {
		char err[128];

		if (mt_columns_parse(columns, view, &out, err, sizeof(err))) {
			fprintf(stderr, "mtstat: -o %s: %s (try --help)\n", columns, err);
			return MTSTAT_EUSAGE;
		}
	}
	if (count > 0 && interval <= 0) {
		fprintf(stderr, "mtstat: -c needs -i\n");
		return MTSTAT_EUSAGE;
	}
	if (watch && (buffers || interval > 0 || (source && !strcmp(source, "procfs")))) {
		fprintf(stderr, "mtstat: --watch streams netlink events; it does not "
				"combine with -b, -i or --source=procfs\n");
		return MTSTAT_EUSAGE;
	}
	if (rcvbuf_set && !watch) {
		fprintf(stderr, "mtstat: --rcvbuf only applies to --watch\n");
		return MTSTAT_EUSAGE;
	}
	if (buffers && source && !strcmp(source, "procfs")) {
		fprintf(stderr, "mtstat: procfs cannot list buffers no process holds; "
				"-b needs --source=netlink\n");
		return MTSTAT_EUSAGE;
	}
	filter.pids = pids;
	filter.npids = npids;

	if (!source) {
		if (mt_netlink_available()) {
			source = "netlink";
		} else if (buffers || watch) {
			/* No procfs stand-in: one message, and why. */
			fprintf(stderr, "mtstat: %s needs the memtrack family: %s\n",
				buffers ? "-b" : "--watch", mtnl_strerror(-ENOENT));
			return MTSTAT_EUNAVAIL;
		} else {
			source = "procfs";
			fprintf(stderr, "mtstat: this kernel has no memtrack family; "
					"scanning procfs instead (slower, racy, no kernel-only buffers)\n");
		}
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (watch) {
		size_t i;

		/* Following a pid that is not there would print nothing, ever. */
		for (i = 0; i < npids; i++) {
			char err[512];

			ret = mt_pid_check(pids[i], err, sizeof(err));
			if (ret) {
				fprintf(stderr, "mtstat: %s\n", err);
				free(pids);
				return ret;
			}
		}
		filter.pids = pids;
		filter.npids = npids;
		ret = mt_watch(&out, &filter, &stop);
		free(pids);
		return ret;
	}
	for (round = 0; !stop; round++) {
		struct mt_snapshot snap;
		char err[512] = "";

		if (nids) {
			ret = mt_print_buffer_ids(stdout, ids, nids, &out, err, sizeof(err));
			if (ret) {
				fprintf(stderr, "mtstat: %s\n", err);
				break;
			}
			if (fflush(stdout) || ferror(stdout)) {
				fprintf(stderr, "mtstat: write error: %s\n", strerror(errno));
				ret = MTSTAT_EFAIL;
				break;
			}
			if (interval <= 0 || (count > 0 && round + 1 >= count))
				break;
			sleep_interval(interval, &stop);
			continue;
		}

		if (!strcmp(source, "netlink"))
			ret = mt_source_netlink(&snap, &filter, buffers || !pids, err,
						sizeof(err));
		else
			ret = mt_source_procfs(&snap, &filter, err, sizeof(err));
		if (ret) {
			const char *hint = advice(ret, source);

			fprintf(stderr, "mtstat: %s\n", err);
			if (hint)
				fprintf(stderr, "mtstat: %s\n", hint);
			mt_snapshot_free(&snap);
			break;
		}
		if (buffers && !snap.has_system) {
			fprintf(stderr, "mtstat: listing every buffer needs CAP_SYS_ADMIN and CAP_NET_ADMIN\n");
			mt_snapshot_free(&snap);
			ret = MTSTAT_EPERM;
			break;
		}
		mt_snapshot_finish(&snap, &filter);
		/* An asked-for pid is shown, or said to be missing: never silently absent. */
		if (pids && (ret = mt_snapshot_check_pids(&snap, &filter, err,
							  sizeof(err)))) {
			fprintf(stderr, "mtstat: %s\n", err);
			mt_snapshot_free(&snap);
			break;
		}
		if (interval > 0 && !out.json && !prometheus && !file) {
			time_t now = time(NULL);
			char ts[32];

			strftime(ts, sizeof(ts), "%F %T", localtime(&now));
			printf("%s--- %s (%s)\n", round ? "\n" : "", ts, snap.source);
		}
		sink = stdout;
		if (file) {
			/* Readers (node_exporter) see the old file or the new one. */
			snprintf(tmp, sizeof(tmp), "%s.tmp", file);
			sink = fopen(tmp, "we");
			if (!sink) {
				fprintf(stderr, "mtstat: %s: %s\n", tmp, strerror(errno));
				mt_snapshot_free(&snap);
				ret = MTSTAT_EFAIL;
				break;
			}
		}
		if (prometheus)
			mt_print_prometheus(sink, &snap, &out);
		else if (by_user || by_cgroup)
			mt_print_owners(sink, &snap, &out,
					by_user ? MT_BY_USER : MT_BY_CGROUP);
		else if (buffers)
			mt_print_buffers(sink, &snap, &out);
		else if (pids)
			mt_print_pids(sink, &snap, &out);
		else
			mt_print_processes(sink, &snap, &out);
		mt_snapshot_free(&snap);
		if (file && (ferror(sink) | fclose(sink) || rename(tmp, file))) {
			fprintf(stderr, "mtstat: writing %s: %s\n", file, strerror(errno));
			unlink(tmp);
			ret = MTSTAT_EFAIL;
			break;
		}
		/* A full disk or a closed pipe is a failure, not a success. */
		if (fflush(stdout) || ferror(stdout)) {
			fprintf(stderr, "mtstat: write error: %s\n", strerror(errno));
			ret = MTSTAT_EFAIL;
			break;
		}
		if (interval <= 0 || (count > 0 && round + 1 >= count))
			break;
		sleep_interval(interval, &stop);
	}
	free(pids);
	free(ids);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = mtstat_main(argc, argv);

	/* Whatever was written, --help and -V included, must have arrived. */
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mtstat: write error: %s\n", strerror(errno));
		if (ret == MTSTAT_OK)
			ret = MTSTAT_EFAIL;
	}
	return ret;
}
