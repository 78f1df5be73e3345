#include "tools/shardsim/worker_pool.h"

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <vector>

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace shardsim::tools {
namespace {

volatile std::sig_atomic_t g_interrupt = 0;

extern "C" void on_interrupt(int signo) { g_interrupt = signo; }

struct Worker {
  std::size_t index{0};
  pid_t pid{-1};
  int result_fd{-1};
  int output_fd{-1};
  TaskOutcome outcome;
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void write_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the parent is gone; nobody is left to tell
    off += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void run_child(std::size_t index, int result_fd, int output_fd, pid_t parent,
                            const std::function<std::string(std::size_t)>& task) {
  std::signal(SIGINT, SIG_IGN);
  std::signal(SIGTERM, SIG_DFL);
#ifdef __linux__
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);  // the parent died before prctl took effect
#else
  (void)parent;
#endif
  ::dup2(output_fd, STDOUT_FILENO);
  ::dup2(output_fd, STDERR_FILENO);
  ::close(output_fd);
  int code = 0;
  std::string result;
  try {
    result = task(index);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = 3;
  }
  write_all(result_fd, result);
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(code);
}

// Starts task `index` in a child. False if the OS refused a pipe or a process.
bool launch(std::size_t index, const std::function<std::string(std::size_t)>& task,
            std::vector<Worker>& running) {
  int result_pipe[2];
  int output_pipe[2];
  if (::pipe(result_pipe) != 0) return false;
  if (::pipe(output_pipe) != 0) {
    ::close(result_pipe[0]);
    ::close(result_pipe[1]);
    return false;
  }
  std::fflush(nullptr);  // or the child would inherit, and later flush, our buffered output
  const pid_t parent = ::getpid();
  Worker w;
  w.index = index;
  w.outcome.index = index;
  w.outcome.started = std::chrono::steady_clock::now();
  w.pid = ::fork();
  if (w.pid == 0) {
    ::close(result_pipe[0]);
    ::close(output_pipe[0]);
    for (auto& other : running) {  // the other workers' pipes are none of this child's business
      close_fd(other.result_fd);
      close_fd(other.output_fd);
    }
    run_child(index, result_pipe[1], output_pipe[1], parent, task);
  }
  ::close(result_pipe[1]);
  ::close(output_pipe[1]);
  if (w.pid < 0) {
    ::close(result_pipe[0]);
    ::close(output_pipe[0]);
    return false;
  }
  w.result_fd = result_pipe[0];
  w.output_fd = output_pipe[0];
  running.push_back(std::move(w));
  return true;
}

void drain(Worker& w, int& fd, bool is_result, const PoolOptions& options) {
  char buf[65536];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close_fd(fd);
    return;
  }
  const auto len = static_cast<std::size_t>(n);
  if (is_result) {
    const std::size_t room =
        options.result_max - std::min(options.result_max, w.outcome.result.size());
    w.outcome.result.append(buf, std::min(room, len));
    if (len > room) w.outcome.result_overflow = true;
  } else {
    auto& tail = w.outcome.output_tail;
    tail.append(buf, len);
    if (tail.size() > options.output_tail_max) tail.erase(0, tail.size() - options.output_tail_max);
  }
}

pid_t wait_for(pid_t pid, int& status) {
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, 0);
    if (r >= 0 || errno != EINTR) return r;
  }
}

void kill_all(std::vector<Worker>& running) {
  for (auto& w : running) ::kill(w.pid, SIGKILL);
  for (auto& w : running) {
    int status = 0;
    wait_for(w.pid, status);
    close_fd(w.result_fd);
    close_fd(w.output_fd);
  }
  running.clear();
}

}  // namespace

bool TaskOutcome::exited_cleanly() const {
  return WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
}

std::string TaskOutcome::how_ended() const {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    switch (sig) {
      case SIGABRT:
        return "SIGABRT";
      case SIGSEGV:
        return "SIGSEGV";
      case SIGBUS:
        return "SIGBUS";
      case SIGFPE:
        return "SIGFPE";
      case SIGILL:
        return "SIGILL";
      case SIGKILL:
        return "SIGKILL";  // often the kernel's OOM killer
      case SIGTERM:
        return "SIGTERM";
      case SIGINT:
        return "SIGINT";
      default:
        return fmt::format("signal {}", sig);
    }
  }
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) != 0)
    return fmt::format("exit {}", WEXITSTATUS(wait_status));
  return {};
}

std::uint64_t TaskOutcome::wall_ms() const {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(ended - started).count());
}

PoolEnd run_pool(std::size_t count, const PoolOptions& options,
                 const std::function<std::string(std::size_t)>& task,
                 const std::function<void(TaskOutcome&&)>& done,
                 const std::function<void()>& tick) {
  if (options.jobs < 1) throw std::invalid_argument("run_pool: jobs must be at least 1");
  std::vector<Worker> running;
  std::size_t next = 0;
  std::vector<pollfd> fds;
  while (true) {
    if (g_interrupt != 0) {
      kill_all(running);
      return PoolEnd::interrupted;
    }
    std::size_t lowest = next;
    for (const auto& w : running) lowest = std::min(lowest, w.index);
    while (next < count && running.size() < static_cast<std::size_t>(options.jobs) &&
           next < lowest + options.window_max) {
      if (!launch(next, task, running)) {
        if (running.empty())
          throw std::runtime_error(fmt::format("cannot start a worker: {}", std::strerror(errno)));
        break;  // out of processes or descriptors: go on with fewer workers, retry after one ends
      }
      ++next;
    }
    if (running.empty()) return PoolEnd::finished;

    fds.clear();
    for (const auto& w : running) {
      if (w.result_fd >= 0) fds.push_back({w.result_fd, POLLIN, 0});
      if (w.output_fd >= 0) fds.push_back({w.output_fd, POLLIN, 0});
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(options.tick.count()));
    if (ready < 0 && errno != EINTR)
      throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
    if (g_interrupt != 0) continue;  // handled at the top, before anything else is recorded
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      for (auto& w : running) {
        if (p.fd == w.result_fd)
          drain(w, w.result_fd, true, options);
        else if (p.fd == w.output_fd)
          drain(w, w.output_fd, false, options);
      }
    }
    for (auto it = running.begin(); it != running.end();) {
      if (it->result_fd >= 0 || it->output_fd >= 0) {
        ++it;
        continue;
      }
      wait_for(it->pid, it->outcome.wait_status);
      it->outcome.ended = std::chrono::steady_clock::now();
      TaskOutcome outcome = std::move(it->outcome);
      it = running.erase(it);
      done(std::move(outcome));
    }
    tick();
  }
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() must wake up
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() { return g_interrupt; }

int available_cpus() {
#ifdef __linux__
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace shardsim::tools
