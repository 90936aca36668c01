//===- test/unit/ScheduleTest.cpp - the schedule annotation's text form ---===//
#include "ir/Schedule.h"

#include <gtest/gtest.h>

using namespace cnnc;

/// Every key survives str() and back; the text is what the IR shows.
TEST(Schedule, ParsesWhatItPrints) {
  for (const char *text :
       {"vector=8 layout=nchw tile=3x4 chunk=64 parallel=rows",
        "vector=8 layout=nchw tile=2x6 band=18 parallel=rows",
        "vector=16 layout=nchwc tile=2x7 parallel=filters",
        "vector=8 layout=winograd tile=3x4 parallel=outer",
        "vector=8 tile=2x2 chunk=2 parallel=filters", "vector=4 parallel=none"}) {
    SCOPED_TRACE(text);
    Expected<KernelSchedule> s = parseSchedule(text);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->str(), text);
    Expected<KernelSchedule> again = parseSchedule(s->str());
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(*again == *s);
  }
  Expected<KernelSchedule> s = parseSchedule("band=12 vector=8");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->band, 12);
  EXPECT_EQ(s->vector, 8);
}

/// A bad annotation is an error that quotes it and names what is wrong.
TEST(Schedule, RejectsBadText) {
  struct Case {
    const char *text, *why;
  };
  for (const Case &c : std::vector<Case>{
           {"vector=x", "vector must be a number of lanes, got 'x'"},
           {"layout=nhwc", "layout must be nchw, nchwc or winograd, got 'nhwc'"},
           {"tile=3", "tile must be FILTERSxROWS, got '3'"},
           {"tile=0x4", "tile must be FILTERSxROWS, got '0x4'"},
           {"chunk=0", "chunk must be a positive number of channels, got '0'"},
           {"band=0", "band must be a positive number of rows, got '0'"},
           {"band=-2", "band must be a positive number of rows, got '-2'"},
           {"band=", "band must be a positive number of rows, got ''"},
           {"parallel=maybe", "parallel must be batch, rows, filters, outer or "
                              "none, got 'maybe'"},
           {"rows=2", "unknown key 'rows' (vector, layout, tile, chunk, band, "
                      "parallel)"},
           {"vector", "'vector' is not key=value"},
       }) {
    SCOPED_TRACE(c.text);
    Expected<KernelSchedule> s = parseSchedule(c.text);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().message(),
              std::string("schedule '") + c.text + "': " + c.why);
  }
}
