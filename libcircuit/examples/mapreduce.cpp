// mapreduce.cpp — a word count over the cluster: a mapper on every host
// counts the words of the files in a directory of that host, all at once;
// main adds the counts up and prints the most frequent words.
//
//   mapreduce DIR [TOP]         # TOP (default 5) words, most frequent first
//
// A "{host}" in DIR stands for each host's name, so that hosts sharing a
// file system (as in the tests) still have files of their own. With
// /srv/text/h1 holding "the cat saw the dog" and /srv/text/h2 "The end.",
// `mapreduce '/srv/text/{host}' 2` prints
//   h1: 5 words in 1 file(s)
//   h2: 2 words in 1 file(s)
//         3 the
//         1 cat
// A host whose mapper fails (no such directory, a crash, the host went
// down) is told on stderr, the others are still counted, and the exit
// status is 1.
#include <circuit/circuit.hpp>

#include <boost/describe.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

// What a mapper gives back: a user struct crosses as JSON once described.
struct tally {
  int files = 0;
  std::map<std::string, long> words;  // word -> how often
};
BOOST_DESCRIBE_STRUCT(tally, (), (files, words))

// The map step, in a worker on each host: the words of every regular file
// in `dir`, lower-cased; a word is a run of letters. What it throws (no
// such directory) reaches main as circuit::app_error.
tally count_words(const std::string& dir) {
  tally t;
  for (auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++t.files;
    std::ifstream in(entry.path());
    std::string word;
    for (char c; in.get(c);) {
      if (std::isalpha(static_cast<unsigned char>(c))) {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      } else if (!word.empty()) {
        ++t.words[word];
        word.clear();
      }
    }
    if (!word.empty()) ++t.words[word];
  }
  return t;
}
CIRCUIT_REGISTER(count_words);

// DIR with every "{host}" replaced by `host`.
std::string on(std::string dir, const std::string& host) {
  const std::string mark = "{host}";
  for (auto at = dir.find(mark); at != std::string::npos; at = dir.find(mark, at + host.size()))
    dir.replace(at, mark.size(), host);
  return dir;
}

int main(int argc, char** argv) {
  circuit::runtime rt(argc, argv);  // in a spawned worker: runs the function, never returns
  if (argc < 2) {
    std::fprintf(stderr, "usage: mapreduce DIR [TOP]\n");
    return 2;
  }
  std::size_t top = argc > 2 ? std::stoul(argv[2]) : 5;

  // Map: a worker per host, all running at once.
  std::vector<std::pair<std::string, circuit::spawned<tally>>> mappers;
  for (auto& host : rt.hosts()) mappers.emplace_back(host, rt.spawn(host, count_words, on(argv[1], host)));

  // Reduce: add each host's counts in as its mapper ends.
  std::map<std::string, long> total;
  int failed = 0;
  for (auto& [host, mapper] : mappers) {
    try {
      tally t = mapper.wait();
      long words = 0;
      for (auto& [word, n] : t.words) {
        total[word] += n;
        words += n;
      }
      std::printf("%s: %ld words in %d file(s)\n", host.c_str(), words, t.files);
    } catch (const circuit::exception& e) {  // app_error, worker_died, host_down
      std::fprintf(stderr, "mapreduce: %s: %s\n", host.c_str(), e.what());
      ++failed;
    }
  }

  // The most frequent first; a stable sort keeps ties in the map's
  // alphabetical order, so every run prints the same.
  std::vector<std::pair<std::string, long>> ranked(total.begin(), total.end());
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.second > b.second; });
  for (std::size_t i = 0; i < ranked.size() && i < top; ++i)
    std::printf("%7ld %s\n", ranked[i].second, ranked[i].first.c_str());
  return failed ? 1 : 0;
}
