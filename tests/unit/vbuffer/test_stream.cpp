// Stream: push/pop, edits that reach the popped bytes, marks, lifetime.
#include "vbuffer_test_util.hpp"

namespace haka::vbuffer::test {
namespace {

using StreamTest = VbufferTest;

TEST_F(StreamTest, PushPopInOrderIsZeroCopyAndUnmodified) {
  Stream s(*pool_);
  rte_mbuf* m = packet("hello");
  Iterator cur;
  ASSERT_EQ(s.push(m, kHeader, 5, m, &cur), Error::ok);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);
  EXPECT_EQ(cur.chunk()->bytes, rte_pktmbuf_mtod_offset(m, uint8_t*, kHeader));
  push(s, "world");
  EXPECT_EQ(s.pending(), 2u);
  EXPECT_EQ(str(s.data()), "helloworld");
  Popped p;
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(p.user, m);
  EXPECT_EQ(str(p.bytes), "hello");
  EXPECT_FALSE(p.bytes.is_modified());
  int segments = 0;
  p.bytes.for_each_segment([&](const uint8_t* b, uint32_t len, rte_mbuf* holder) {
    ++segments;
    EXPECT_EQ(holder, m);
    EXPECT_EQ(b, rte_pktmbuf_mtod_offset(m, uint8_t*, kHeader));
    EXPECT_EQ(len, 5u);
  });
  EXPECT_EQ(segments, 1);
  p.bytes.release();
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  EXPECT_EQ(pop(s), "world");
  EXPECT_EQ(s.pop(p), Error::nothing_to_pop);
  EXPECT_EQ(s.pending(), 0u);
}

// In order, the end a push overtook becomes the popped bytes' sentinel: no
// node taken from the pool, and iterators left on it are invalid as if it
// had been freed.
TEST_F(StreamTest, InOrderPopTakesNoNodeAndInvalidatesTheOldEnd) {
  BufferPool tiny(mempool_, 3);
  Stream s(tiny);
  Iterator old_end = s.data().end();
  rte_mbuf* m = packet("abc");
  ASSERT_EQ(s.push(m, kHeader, 3, nullptr), Error::ok);
  EXPECT_EQ(tiny.chunks_in_use(), 3u) << "the old end, the data chunk, the new end: the pool is empty";
  EXPECT_EQ(old_end.check(), Error::ok);
  Popped p;
  ASSERT_EQ(s.pop(p), Error::ok) << "no node needed";
  EXPECT_EQ(p.bytes.sentinel(), old_end.chunk());
  EXPECT_EQ(old_end.check(), Error::invalid_iterator);
  EXPECT_EQ(str(p.bytes), "abc");
  bool eof = false;
  ASSERT_EQ(p.bytes.end().is_eof(eof), Error::ok);
  EXPECT_TRUE(eof) << "a plain buffer's sentinel";
  EXPECT_EQ(tiny.counters().chunk_exhausted, 0u);
  p.bytes.release();
  s.clear();
  EXPECT_EQ(tiny.chunks_in_use(), 0u);
}

TEST_F(StreamTest, PushReturnsTheFirstNewByteOrTheMarker) {
  Stream s(*pool_);
  Iterator cur;
  push(s, "", &cur);
  bool end = false;
  ASSERT_EQ(cur.is_end(end), Error::ok);
  EXPECT_TRUE(end) << "an empty push gives the marker, the stream's end";
  push(s, "abc", &cur);
  uint8_t b = 0;
  ASSERT_EQ(cur.get_byte(b), Error::ok);
  EXPECT_EQ(b, 'a');
  EXPECT_EQ(pop(s), "");
  EXPECT_EQ(pop(s), "abc");
}

TEST_F(StreamTest, IteratorAtTheEndStandsBeforeTheNextPush) {
  Stream s(*pool_);
  push(s, "abc");
  Iterator end = s.data().end();
  push(s, "def");
  std::size_t avail = 0;
  ASSERT_EQ(end.available(avail), Error::ok);
  EXPECT_EQ(avail, 3u);
  s.finish();
  Iterator it = s.data().begin();
  ASSERT_EQ(it.advance(all), Error::ok);
  bool eof = false;
  ASSERT_EQ(it.is_eof(eof), Error::ok);
  EXPECT_TRUE(eof);
  EXPECT_EQ(s.push(packet("x"), kHeader, 1, nullptr), Error::stream_finished);
  EXPECT_TRUE(s.is_finished());
}

TEST_F(StreamTest, InsertAtTheEndOfAChunkGoesToItsPacket) {
  Stream s(*pool_);
  push(s, "abc");
  push(s, "def");
  // Advancing by exactly 3 stops at (first chunk, 3): before packet 1's marker.
  Iterator end_of_first = s.data().begin();
  ASSERT_EQ(end_of_first.advance(3), Error::ok);
  Buffer x;
  ASSERT_EQ(Buffer::from(*pool_, bytes("X"), x), Error::ok);
  ASSERT_EQ(end_of_first.insert(x), Error::ok);
  // (second chunk, 0) is after that marker: the bytes go to packet 2.
  Iterator walk = s.data().begin();
  ASSERT_EQ(walk.advance(4), Error::ok); // (X chunk, 1)
  Iterator second = Iterator(pool_.get(), walk.chunk()->next->next, 0); // marker 1, then "def"
  Buffer y;
  ASSERT_EQ(Buffer::from(*pool_, bytes("Y"), y), Error::ok);
  ASSERT_EQ(second.insert(y), Error::ok);
  bool modified = false;
  EXPECT_EQ(pop(s, &modified), "abcX");
  EXPECT_TRUE(modified);
  EXPECT_EQ(pop(s, &modified), "Ydef");
  EXPECT_TRUE(modified);
}

TEST_F(StreamTest, EraseSpanningPacketsKeepsTheirMarkersInOrder) {
  Stream s(*pool_);
  push(s, "aaaa");
  push(s, "bbbb");
  push(s, "cccc");
  ASSERT_EQ(s.data().sub(2, 8).erase(), Error::ok);
  EXPECT_EQ(str(s.data()), "aacc");
  EXPECT_EQ(s.pending(), 3u);
  Popped p;
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(str(p.bytes), "aa");
  EXPECT_EQ(p.user, held_[0]);
  EXPECT_TRUE(p.bytes.is_modified());
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(str(p.bytes), "");
  EXPECT_EQ(p.user, held_[1]);
  EXPECT_TRUE(p.bytes.is_modified());
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(str(p.bytes), "cc");
  EXPECT_EQ(p.user, held_[2]);
  EXPECT_EQ(wire(held_[1]), "bbbb");
}

TEST_F(StreamTest, ReplaceAcrossPacketsPutsTheNewBytesInTheLastOne) {
  Stream s(*pool_);
  push(s, "aaaa");
  push(s, "bbbb");
  Sub r = s.data().sub(2, 4);
  ASSERT_EQ(r.set_string(bytes("XYZ")), Error::ok);
  EXPECT_EQ(str(s.data()), "aaXYZbb");
  EXPECT_EQ(pop(s), "aa");
  EXPECT_EQ(pop(s), "XYZbb");
}

TEST_F(StreamTest, PopWithEveryEditYieldsTheEditedBytes) {
  Stream s(*pool_);
  push(s, "GET /index.html HTTP/1.1\r\n");
  push(s, "Host: example\r\n\r\n");
  Sub method = s.data().sub(0, 3);
  ASSERT_EQ(method.write(bytes("PUT")), Error::ok);
  ASSERT_EQ(s.data().sub(5, 5).set_string(bytes("home")), Error::ok);
  ASSERT_EQ(s.data().sub(23, 1).zero(), Error::ok);
  ASSERT_EQ(s.data().sub(31, 7).set_string(bytes("test")), Error::ok);
  bool modified = false;
  EXPECT_EQ(pop(s, &modified), std::string("PUT /home.html HTTP/1.1\0\n", 25));
  EXPECT_TRUE(modified);
  EXPECT_EQ(pop(s, &modified), "Host: test\r\n\r\n");
  EXPECT_TRUE(modified);
  EXPECT_EQ(wire(held_[0]), "GET /index.html HTTP/1.1\r\n");
  EXPECT_EQ(wire(held_[1]), "Host: example\r\n\r\n");
}

TEST_F(StreamTest, ReadWriteMarkHoldsItsPacketAndLaterOnes) {
  Stream s(*pool_);
  push(s, "one");
  push(s, "two");
  push(s, "three");
  Iterator m = s.data().position(4); // inside "two"
  ASSERT_EQ(m.mark(false), Error::ok);
  EXPECT_EQ(pop(s), "one");
  Popped p;
  EXPECT_EQ(s.pop(p), Error::held_by_mark);
  EXPECT_EQ(s.pending(), 2u);
  // Held bytes stay writable and the edit reaches the packet.
  ASSERT_EQ(s.data().sub(0, 1).set_byte(0, 'T'), Error::ok);
  Iterator not_mark = s.data().begin();
  EXPECT_EQ(not_mark.unmark(), Error::not_a_mark);
  ASSERT_EQ(m.unmark(), Error::ok);
  EXPECT_EQ(pop(s), "Two");
  EXPECT_EQ(pop(s), "three");
}

TEST_F(StreamTest, MarkAtTheEndHoldsTheCurrentPacket) {
  Stream s(*pool_);
  push(s, "abc");
  Iterator end = s.data().end();
  ASSERT_EQ(end.mark(false), Error::ok);
  Popped p;
  EXPECT_EQ(s.pop(p), Error::held_by_mark);
  push(s, "def");
  EXPECT_EQ(s.pop(p), Error::held_by_mark);
  ASSERT_EQ(end.unmark(), Error::ok);
  EXPECT_EQ(pop(s), "abc");
  EXPECT_EQ(pop(s), "def");
}

TEST_F(StreamTest, ReadOnlyMarkDoesNotHoldButKeepsTheBytesReadable) {
  Stream s(*pool_);
  push(s, "abcd");
  push(s, "efgh");
  Iterator m = s.data().position(2);
  ASSERT_EQ(m.mark(true), Error::ok);
  Iterator reader = m;
  Popped p;
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(str(p.bytes), "abcd");
  // The popped bytes after the mark are clones sharing the packet's bytes.
  EXPECT_EQ(p.bytes.sentinel()->prev->bytes, rte_pktmbuf_mtod_offset(held_[0], uint8_t*, kHeader + 2));
  std::size_t avail = 0;
  ASSERT_EQ(reader.available(avail), Error::ok);
  EXPECT_EQ(avail, 6u) << "kept bytes stay readable";
  // The stream now starts at the mark: "cd" (kept, read-only) then "efgh".
  EXPECT_EQ(s.data().sub(1, 1).set_byte(0, 'X'), Error::read_only);
  ASSERT_EQ(s.data().sub(2, 1).set_byte(0, 'X'), Error::ok) << "the next packet is not kept yet";
  // Writing the popped clone copies it: the kept bytes are unchanged.
  ASSERT_EQ(p.bytes.sub(3, 1).set_byte(0, 'Z'), Error::ok);
  EXPECT_EQ(str(p.bytes), "abcZ");
  EXPECT_EQ(str(s.data().sub(0, 2)), "cd");
  p.bytes.release();
  // Later packets pass too, as clones, while the mark stays.
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(str(p.bytes), "Xfgh");
  EXPECT_EQ(s.data().sub(3, 1).set_byte(0, 'Y'), Error::read_only);
  p.bytes.release();
  ASSERT_EQ(m.unmark(), Error::ok);
  // The next pop frees the kept region (refcounts are checked at TearDown).
  push(s, "ijkl");
  EXPECT_EQ(pop(s), "ijkl");
  EXPECT_EQ(str(s.data()), "");
}

TEST_F(StreamTest, SelectPlaceholderHoldsPops) {
  Stream s(*pool_);
  push(s, "abcd");
  Buffer taken;
  Iterator ref;
  Sub r = s.data().sub(1, 2);
  ASSERT_EQ(r.select(taken, ref), Error::ok);
  Popped p;
  EXPECT_EQ(s.pop(p), Error::held_by_select);
  ASSERT_EQ(ref.restore(&taken, false), Error::ok);
  EXPECT_EQ(pop(s), "abcd");
}

TEST_F(StreamTest, IteratorIntoAPoppedAndFreedPacketIsInvalid) {
  Stream s(*pool_);
  push(s, "abc");
  push(s, "def");
  Iterator first = s.data().position(1);
  Sub sub_first = s.data().sub(0, 2);
  Iterator second = s.data().position(4);
  {
    Popped p;
    ASSERT_EQ(s.pop(p), Error::ok);
    std::size_t n = 0;
    EXPECT_EQ(first.available(n), Error::ok) << "chunks live on in the popped buffer";
  }
  std::size_t n = 0;
  EXPECT_EQ(first.available(n), Error::invalid_iterator);
  EXPECT_EQ(sub_first.size(n), Error::invalid_iterator);
  Buffer x;
  ASSERT_EQ(Buffer::from(*pool_, bytes("x"), x), Error::ok);
  EXPECT_EQ(sub_first.replace(x), Error::invalid_iterator);
  ASSERT_EQ(second.available(n), Error::ok);
  EXPECT_EQ(n, 2u);
}

TEST_F(StreamTest, MultiSegmentPacketPushesOneChunkPerSegment) {
  Stream s(*pool_);
  rte_mbuf* a = packet("abc", false);
  rte_mbuf* tail = rte_pktmbuf_alloc(mempool_);
  std::memcpy(rte_pktmbuf_append(tail, 3), "def", 3);
  ASSERT_EQ(rte_pktmbuf_chain(a, tail), 0);
  ASSERT_EQ(s.push(a, kHeader, 6, a), Error::ok);
  EXPECT_EQ(s.push(a, kHeader, 7, a), Error::out_of_range);
  rte_pktmbuf_free(a);
  EXPECT_EQ(str(s.data()), "abcdef");
  EXPECT_EQ(pop(s), "abcdef");
}

TEST_F(StreamTest, ClearReleasesEverything) {
  Stream s(*pool_);
  push(s, "abc");
  push(s, "def");
  Iterator m = s.data().position(1);
  ASSERT_EQ(m.mark(true), Error::ok);
  EXPECT_EQ(pop(s), "abc");
  s.clear();
  EXPECT_FALSE(s.valid());
  ASSERT_EQ(s.init(*pool_), Error::ok);
  push(s, "ghi");
  EXPECT_EQ(pop(s), "ghi");
}

TEST_F(StreamTest, PushOfABuffer) {
  Stream s(*pool_);
  Buffer b;
  ASSERT_EQ(Buffer::from(*pool_, bytes("forged"), b), Error::ok);
  int tag = 7;
  ASSERT_EQ(s.push(b, &tag), Error::ok);
  Popped p;
  ASSERT_EQ(s.pop(p), Error::ok);
  EXPECT_EQ(p.user, &tag);
  EXPECT_EQ(str(p.bytes), "forged");
}

} // namespace
} // namespace haka::vbuffer::test
