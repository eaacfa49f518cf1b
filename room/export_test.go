package room

import (
	"context"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/peer"
)

// DeliverForTest runs env through the same validator and handler as an
// envelope that gossipsub delivered from via, bypassing only gossipsub's
// own duplicate filter. It returns the validation result.
func (r *Room) DeliverForTest(env []byte, via peer.ID) pubsub.ValidationResult {
	msg := &pubsub.Message{Message: &pb.Message{Data: env}, ReceivedFrom: via}
	res := r.validate(context.Background(), via, msg, false)
	if res == pubsub.ValidationAccept {
		r.handle(msg.ValidatorData.(*received))
	}
	return res
}
