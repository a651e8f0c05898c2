// Buffers, iterators and subs: reads across chunks, numbers, bits, every edit.
#include "vbuffer_test_util.hpp"

namespace haka::vbuffer::test {
namespace {

class BufferTest : public VbufferTest {
protected:
  /// A buffer made of the payloads of several packets (one chunk each).
  Buffer chain(std::initializer_list<std::string> parts) {
    Buffer b;
    EXPECT_EQ(Buffer::create(*pool_, b), Error::ok);
    for (const std::string& p : parts) {
      Buffer piece;
      EXPECT_EQ(Buffer::from_mbuf(*pool_, packet(p), kHeader, static_cast<uint32_t>(p.size()), piece), Error::ok);
      EXPECT_EQ(b.append(piece), Error::ok);
    }
    return b;
  }
};

TEST_F(BufferTest, ErrorMessagesComeFromTheTable) {
  EXPECT_STREQ(message(Error::invalid_iterator), "invalid buffer iterator");
  EXPECT_STREQ(message(Error::read_only), "read only buffer");
  EXPECT_STREQ(message(Error::not_a_mark), "iterator is not a mark");
  EXPECT_STREQ(message(static_cast<Error>(200)), "unknown vbuffer error");
}

TEST_F(BufferTest, FromMbufIsZeroCopyAndHoldsAReference) {
  rte_mbuf* m = packet("hello world", false);
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, m, kHeader, 11, b), Error::ok);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);
  EXPECT_EQ(b.begin().chunk()->bytes, rte_pktmbuf_mtod_offset(m, uint8_t*, kHeader));
  rte_pktmbuf_free(m); // the buffer's reference keeps the bytes
  EXPECT_EQ(str(b), "hello world");
  EXPECT_FALSE(b.is_modified());
}

TEST_F(BufferTest, FromMultiSegmentMbufMakesOneChunkPerSegment) {
  rte_mbuf* a = packet("abcdef", false);
  rte_mbuf* tail = rte_pktmbuf_alloc(mempool_);
  std::memcpy(rte_pktmbuf_append(tail, 4), "WXYZ", 4);
  ASSERT_EQ(rte_pktmbuf_chain(a, tail), 0);
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, a, kHeader + 2, 7, b), Error::ok);
  EXPECT_EQ(str(b), "cdefWXY");
  EXPECT_NE(b.begin().chunk()->next, b.sentinel());
  EXPECT_EQ(b.begin().chunk()->next->mbuf, tail);
  Buffer too_long;
  EXPECT_EQ(Buffer::from_mbuf(*pool_, a, kHeader, 11, too_long), Error::out_of_range);
  rte_pktmbuf_free(a); // frees the chain; our references keep both segments
  EXPECT_EQ(str(b), "cdefWXY");
}

TEST_F(BufferTest, ReadsAcrossChunks) {
  Buffer b = chain({"ab", "cde", "", "fghij"});
  EXPECT_EQ(b.size(), 10u);
  EXPECT_EQ(str(b.sub(1, 6)), "bcdefg");
  EXPECT_EQ(str(b.sub(3)), "defghij");
  uint8_t byte = 0;
  EXPECT_EQ(b.sub().get_byte(5, byte), Error::ok);
  EXPECT_EQ(byte, 'f');
  EXPECT_EQ(b.sub().get_byte(10, byte), Error::out_of_range);
  std::size_t avail = 0;
  EXPECT_EQ(b.position(4).available(avail), Error::ok);
  EXPECT_EQ(avail, 6u);
  std::size_t have = 0;
  EXPECT_EQ(b.position(4).check_available(100, have), Error::ok);
  EXPECT_EQ(have, 6u);
  EXPECT_EQ(b.position(4).check_available(3, have), Error::ok);
  EXPECT_EQ(have, 3u);
}

TEST_F(BufferTest, NumbersOfOneToEightBytesAcrossChunks) {
  const std::string raw = "\x01\x02\x03\x04\x05\x06\x07\x08\x09";
  Buffer b = chain({raw.substr(0, 1), raw.substr(1, 2), raw.substr(3, 4), raw.substr(7)});
  int64_t v = 0;
  for (std::size_t n = 1; n <= 8; ++n) {
    uint64_t be = 0, le = 0;
    for (std::size_t i = 0; i < n; ++i) {
      be = be << 8 | static_cast<uint8_t>(raw[1 + i]);
      le |= uint64_t{static_cast<uint8_t>(raw[1 + i])} << (8 * i);
    }
    ASSERT_EQ(b.sub(1, n).as_number(true, v), Error::ok) << n;
    EXPECT_EQ(static_cast<uint64_t>(v), be) << n;
    ASSERT_EQ(b.sub(1, n).as_number(false, v), Error::ok) << n;
    EXPECT_EQ(static_cast<uint64_t>(v), le) << n;
  }
  EXPECT_EQ(b.sub(0, 9).as_number(true, v), Error::unsupported_size);
  EXPECT_EQ(b.sub(0, 0).as_number(true, v), Error::unsupported_size);
  // Unsigned, not sign-extended.
  Buffer ff;
  ASSERT_EQ(Buffer::from(*pool_, bytes("\xff\xfe"), ff), Error::ok);
  ASSERT_EQ(ff.sub().as_number(true, v), Error::ok);
  EXPECT_EQ(v, 0xfffe);
}

TEST_F(BufferTest, SetNumberWritesCopyOnWriteAndChecksTheRange) {
  rte_mbuf* m = packet("abcdefgh");
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, m, kHeader, 8, b), Error::ok);
  ASSERT_EQ(b.sub(2, 3).set_number(true, 0x414243), Error::ok);
  EXPECT_EQ(str(b), "abABCfgh");
  ASSERT_EQ(b.sub(2, 2).set_number(false, 0x5958), Error::ok);
  EXPECT_EQ(str(b), "abXYCfgh");
  EXPECT_EQ(b.sub(0, 1).set_number(true, 256), Error::value_does_not_fit);
  EXPECT_EQ(b.sub(0, 1).set_number(true, -129), Error::value_does_not_fit);
  ASSERT_EQ(b.sub(0, 1).set_number(true, -1), Error::ok);
  EXPECT_EQ(str(b)[0], '\xff');
  EXPECT_EQ(b.sub(0, 8).set_number(true, INT64_MIN), Error::ok);
  EXPECT_EQ(wire(m), "abcdefgh") << "the packet's bytes are never written";
  EXPECT_TRUE(b.is_modified());
  EXPECT_EQ(pool_->counters().cow_copies, 1u) << "one copy per chunk, later writes in place";
}

TEST_F(BufferTest, BitsInHakaOrder) {
  Buffer b;
  ASSERT_EQ(Buffer::from(*pool_, bytes("\xA5\x3C"), b), Error::ok); // 1010 0101 0011 1100
  int64_t v = 0;
  ASSERT_EQ(b.sub().as_bits(0, 4, true, v), Error::ok);
  EXPECT_EQ(v, 0xA);
  ASSERT_EQ(b.sub().as_bits(4, 8, true, v), Error::ok);
  EXPECT_EQ(v, 0x53);
  ASSERT_EQ(b.sub().as_bits(0, 4, false, v), Error::ok);
  EXPECT_EQ(v, 0x5);
  ASSERT_EQ(b.sub().as_bits(4, 8, false, v), Error::ok); // high nibble of A5, then low of 3C
  EXPECT_EQ(v, 0xCA);
  EXPECT_EQ(b.sub().as_bits(16, 1, true, v), Error::bit_offset);
  EXPECT_EQ(b.sub().as_bits(12, 8, true, v), Error::out_of_range);
  ASSERT_EQ(b.sub().set_bits(4, 8, true, 0xFF), Error::ok);
  ASSERT_EQ(b.sub().as_number(true, v), Error::ok);
  EXPECT_EQ(v, 0xAFFC);
  ASSERT_EQ(b.sub().set_bits(0, 4, false, 0x0), Error::ok);
  ASSERT_EQ(b.sub().as_number(true, v), Error::ok);
  EXPECT_EQ(v, 0xA0FC);
  EXPECT_EQ(b.sub().set_bits(0, 3, true, 8), Error::value_does_not_fit);
}

TEST_F(BufferTest, AdvanceByAChunkStopsAtItsEnd) {
  Buffer b = chain({"abc", "def"});
  Iterator it = b.begin();
  std::size_t done = 0;
  ASSERT_EQ(it.advance(3, &done), Error::ok);
  EXPECT_EQ(done, 3u);
  EXPECT_EQ(it.chunk(), b.begin().chunk());
  EXPECT_EQ(it.offset(), 3u);
  EXPECT_EQ(it.meter(), 3u);
  ASSERT_EQ(it.advance(all, &done), Error::ok);
  EXPECT_EQ(done, 3u);
  bool end = false, eof = false;
  EXPECT_EQ(it.is_end(end), Error::ok);
  EXPECT_TRUE(end);
  EXPECT_EQ(it.is_eof(eof), Error::ok);
  EXPECT_TRUE(eof) << "a plain buffer's end is eof";
}

TEST_F(BufferTest, InsertSplitsAndCoversTheNewBytes) {
  rte_mbuf* m = packet("abcdef");
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, m, kHeader, 6, b), Error::ok);
  Iterator it = b.position(2);
  Buffer ins;
  ASSERT_EQ(Buffer::from(*pool_, bytes("XY"), ins), Error::ok);
  Sub inserted;
  ASSERT_EQ(it.insert(ins, &inserted), Error::ok);
  EXPECT_EQ(str(b), "abXYcdef");
  EXPECT_EQ(str(inserted), "XY");
  EXPECT_EQ(ins.size(), 0u) << "the inserted buffer is emptied";
  uint8_t next = 0;
  ASSERT_EQ(it.get_byte(next), Error::ok);
  EXPECT_EQ(next, 'c') << "the iterator moves after the inserted bytes";
  EXPECT_TRUE(b.is_modified());
  EXPECT_EQ(wire(m), "abcdef");
  Buffer self;
  ASSERT_EQ(Buffer::from(*pool_, bytes("Z"), self), Error::ok);
  Iterator inside = self.begin();
  EXPECT_EQ(inside.insert(self), Error::circular_insert);
}

TEST_F(BufferTest, EraseReplaceAndSetString) {
  Buffer b = chain({"abcd", "efgh", "ijkl"});
  ASSERT_EQ(b.sub(2, 8).erase(), Error::ok);
  EXPECT_EQ(str(b), "abkl");
  Sub s = b.sub(1, 2);
  Buffer rep;
  ASSERT_EQ(Buffer::from(*pool_, bytes("12345"), rep), Error::ok);
  ASSERT_EQ(s.replace(rep), Error::ok);
  EXPECT_EQ(str(b), "a12345l");
  EXPECT_EQ(str(s), "12345") << "the sub covers the new bytes";
  ASSERT_EQ(s.set_string(bytes("Q")), Error::ok);
  EXPECT_EQ(str(b), "aQl");
  ASSERT_EQ(b.sub(0, 3).set_string(bytes("")), Error::ok);
  EXPECT_EQ(str(b), "");
  EXPECT_TRUE(b.is_modified());
}

TEST_F(BufferTest, LengthSubDoesNotFollowInsertsEndSubDoes) {
  Buffer b = chain({"abcd", "efgh"});
  Iterator it = b.begin();
  Sub by_length;
  ASSERT_EQ(it.sub(5, false, by_length), Error::ok); // (begin, 5)
  Sub by_end = b.sub(0, 5);                          // (begin, end in the second chunk)
  Buffer ins;
  ASSERT_EQ(Buffer::from(*pool_, bytes("XY"), ins), Error::ok);
  Iterator mid = b.position(2);
  ASSERT_EQ(mid.insert(ins), Error::ok);
  EXPECT_EQ(str(by_length), "abXYc");
  EXPECT_EQ(str(by_end), "abXYcde");
}

TEST_F(BufferTest, SetFixedStringZeroAndSetByte) {
  rte_mbuf* m = packet("abcdefgh");
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, m, kHeader, 8, b), Error::ok);
  std::size_t n = 0;
  ASSERT_EQ(b.sub(6, 2).write(bytes("WXYZ"), &n), Error::ok);
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(str(b), "abcdefWX");
  ASSERT_EQ(b.sub(1, 2).zero(), Error::ok);
  EXPECT_EQ(str(b), std::string("a\0\0defWX", 8));
  ASSERT_EQ(b.sub().set_byte(0, 'Z'), Error::ok);
  EXPECT_EQ(b.sub().set_byte(8, 'Z'), Error::out_of_range);
  EXPECT_EQ(str(b), std::string("Z\0\0defWX", 8));
  EXPECT_EQ(wire(m), "abcdefgh");
}

TEST_F(BufferTest, SubWithSplitSurvivesEraseWithoutItDoesNot) {
  Buffer b = chain({"abcdefgh"});
  Iterator it = b.begin();
  Sub head;
  ASSERT_EQ(it.sub(3, false, head), Error::ok);
  ASSERT_EQ(head.erase(), Error::ok);
  EXPECT_EQ(str(b), "defgh");
  std::size_t avail = 0;
  EXPECT_EQ(it.available(avail), Error::invalid_iterator) << "it sat at the end of the erased chunk";

  Buffer c = chain({"abcdefgh"});
  Iterator it2 = c.begin();
  ASSERT_EQ(it2.sub(3, true, head), Error::ok);
  ASSERT_EQ(head.erase(), Error::ok);
  ASSERT_EQ(it2.available(avail), Error::ok);
  EXPECT_EQ(avail, 5u);
  uint8_t byte = 0;
  ASSERT_EQ(it2.get_byte(byte), Error::ok);
  EXPECT_EQ(byte, 'd');
}

TEST_F(BufferTest, FlattenContiguousPiecesWithoutCopyElseCopies) {
  rte_mbuf* m = packet("abcdefgh");
  Buffer b;
  ASSERT_EQ(Buffer::from_mbuf(*pool_, m, kHeader, 8, b), Error::ok);
  Iterator it = b.position(3);
  ASSERT_EQ(it.split(), Error::ok);
  Sub all_of = b.sub();
  bool flat = true;
  ASSERT_EQ(all_of.is_flat(flat), Error::ok);
  EXPECT_FALSE(flat);
  const uint8_t* p = nullptr;
  std::size_t n = 0;
  ASSERT_EQ(all_of.flatten(p, n), Error::ok);
  EXPECT_EQ(p, rte_pktmbuf_mtod_offset(m, uint8_t*, kHeader)) << "split pieces are still contiguous";
  EXPECT_EQ(n, 8u);

  Buffer c = chain({"abc", "defg"});
  Sub whole = c.sub();
  ASSERT_EQ(whole.flatten(p, n), Error::ok);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(p), n), "abcdefg");
  ASSERT_EQ(whole.is_flat(flat), Error::ok);
  EXPECT_TRUE(flat);
  EXPECT_FALSE(c.is_modified()) << "flattening changes the structure, not the bytes";
  EXPECT_EQ(str(whole), "abcdefg");
}

TEST_F(BufferTest, CloneSharedIsCopyOnWriteCloneCopyIsOwned) {
  Buffer b = chain({"abcd", "efgh"});
  Buffer shared, copied;
  ASSERT_EQ(b.clone(shared, false), Error::ok);
  ASSERT_EQ(b.clone(copied, true), Error::ok);
  EXPECT_EQ(shared.begin().chunk()->bytes, b.begin().chunk()->bytes);
  EXPECT_NE(copied.begin().chunk()->bytes, b.begin().chunk()->bytes);
  ASSERT_EQ(shared.sub(0, 1).set_byte(0, 'X'), Error::ok);
  EXPECT_EQ(str(shared), "Xbcdefgh");
  EXPECT_EQ(str(b), "abcdefgh");
  EXPECT_EQ(str(copied), "abcdefgh");
}

TEST_F(BufferTest, SelectAndRestore) {
  Buffer b = chain({"abcdef"});
  Sub mid = b.sub(2, 2);
  Buffer taken;
  Iterator ref;
  ASSERT_EQ(mid.select(taken, ref), Error::ok);
  EXPECT_EQ(str(taken), "cd");
  EXPECT_EQ(str(b), "abef");
  Buffer repl;
  ASSERT_EQ(Buffer::from(*pool_, bytes("XYZ"), repl), Error::ok);
  Iterator not_select = b.begin();
  EXPECT_EQ(not_select.restore(&repl, false), Error::not_a_select);
  ASSERT_EQ(ref.restore(&repl, false), Error::ok);
  EXPECT_EQ(str(b), "abXYZef");
  EXPECT_FALSE(ref.is_set());
}

TEST_F(BufferTest, IteratorOnAFreedChunkIsDetected) {
  Iterator it;
  std::size_t n = 0;
  EXPECT_EQ(it.available(n), Error::empty_iterator);
  {
    Buffer b = chain({"abc"});
    it = b.position(1);
    ASSERT_EQ(it.available(n), Error::ok);
  }
  EXPECT_EQ(it.available(n), Error::invalid_iterator);
  EXPECT_EQ(it.advance(1), Error::invalid_iterator);
  Buffer ins;
  ASSERT_EQ(Buffer::from(*pool_, bytes("x"), ins), Error::ok);
  EXPECT_EQ(it.insert(ins), Error::invalid_iterator);
  EXPECT_EQ(it.mark(false), Error::invalid_iterator);
  // A node reused by another buffer does not revive the old iterator.
  Buffer again = chain({"xyz"});
  EXPECT_EQ(it.available(n), Error::invalid_iterator);
}

TEST_F(BufferTest, IteratorPastASplitPointIsInvalid) {
  Buffer b = chain({"abcdefgh"});
  Iterator late = b.position(6);
  ASSERT_EQ(b.sub(1, 2).erase(), Error::ok); // cuts the chunk at 1 and 3
  std::size_t n = 0;
  EXPECT_EQ(late.available(n), Error::invalid_iterator);
}

TEST_F(BufferTest, ChunkPoolExhaustionIsAnError) {
  BufferPool tiny(mempool_, 3);
  Buffer b;
  ASSERT_EQ(Buffer::create(tiny, b), Error::ok);
  Buffer two;
  ASSERT_EQ(Buffer::from_mbuf(tiny, packet("abcdef"), kHeader, 6, two), Error::ok);
  EXPECT_EQ(tiny.chunks_in_use(), 3u);
  Buffer more;
  EXPECT_EQ(Buffer::from(tiny, bytes("x"), more), Error::no_chunk);
  Iterator it = two.position(3);
  EXPECT_EQ(it.split(), Error::no_chunk);
  EXPECT_EQ(str(two), "abcdef");
  EXPECT_GE(tiny.counters().chunk_exhausted, 2u);
  b.release();
  two.release();
  tiny.release_arena();
}

} // namespace
} // namespace haka::vbuffer::test
