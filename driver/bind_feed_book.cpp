// Python binding of FeedBook (feed_book.hpp): the backtest's order-by-order book of the feed.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "feed_book.hpp"

namespace py = pybind11;

namespace tickgate::driver {

void bind_feed_book(py::module_& m) {
  py::class_<FeedBook>(m, "FeedBook",
                       "The feed's order-by-order book (every live order, each level's queue in time priority) "
                       "for the backtest's fill simulator; changes that can reach our orders are reported as touches.")
      .def(py::init<>())
      .def(
          "feed",
          [](FeedBook& b, const py::buffer& packet, std::size_t start, std::uint64_t until_ts) {
            const py::buffer_info info = packet.request();
            return b.feed(bytes_of(info), start, until_ts);
          },
          py::arg("packet"), py::arg("start") = 0, py::arg("until_ts") = UINT64_MAX,
          "Apply a MoldUDP64 packet's messages from index `start`, stopping before the first whose timestamp is "
          "at least `until_ts`: (index to resume at, its timestamp), or (-1, 0) at the end.")
      .def("watch", &FeedBook::watch, py::arg("locate"), py::arg("buy"), py::arg("lo"), py::arg("hi"),
           "Our orders on one side of a locate rest at prices lo..hi (lo > hi: none); the changes that can reach "
           "them are reported as touches.")
      .def(
          "take_touches",
          [](FeedBook& b) {
            py::list out;
            for (const Touch& t : b.take_touches()) {
              out.append(py::make_tuple(std::string(1, t.kind), t.locate, t.buy, t.price, t.shares, t.prio, t.ts,
                                        t.ref));
            }
            return out;
          },
          "The touches since the last call: (kind 'A'/'E'/'X', locate, buy, price, shares, priority, ts, ref).")
      .def("level", &FeedBook::level, py::arg("locate"), py::arg("buy"), py::arg("price"),
           "The queue at a level in time priority: [(ref, shares, priority)].")
      .def("prices", &FeedBook::prices, py::arg("locate"), py::arg("buy"), "A side's prices, best first.")
      .def("next_prio", &FeedBook::next_prio, "A new priority, after every order so far (for our own orders).")
      .def_property_readonly("last_ts", &FeedBook::last_ts, "The timestamp of the last message applied.")
      .def("__len__", &FeedBook::size);
}

}  // namespace tickgate::driver
