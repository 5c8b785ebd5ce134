package coordinator

import (
	"context"
	"errors"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/store"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func registryError(err error) error {
	switch {
	case errors.Is(err, store.ErrNoModel), errors.Is(err, store.ErrNoChampion):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, store.ErrNoPrevious), errors.Is(err, store.ErrIsChampion):
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// ListModels implements fedscoregrpc.RegistryServer.
func (co *Coordinator) ListModels(context.Context, *fedscorepb.ListModelsRequest) (*fedscorepb.ListModelsResponse, error) {
	ms, champion, err := co.cfg.Store.Models()
	if err != nil {
		return nil, registryError(err)
	}
	return &fedscorepb.ListModelsResponse{Versions: ms, Champion: champion}, nil
}

// GetRegisteredModel implements fedscoregrpc.RegistryServer.
func (co *Coordinator) GetRegisteredModel(ctx context.Context, req *fedscorepb.GetRegisteredModelRequest) (*fedscorepb.RegisteredModel, error) {
	m, err := co.cfg.Store.Model(req.GetVersion())
	if err != nil {
		return nil, registryError(err)
	}
	return m, nil
}

// PromoteModel implements fedscoregrpc.RegistryServer.
func (co *Coordinator) PromoteModel(ctx context.Context, req *fedscorepb.PromoteModelRequest) (*fedscorepb.RegisteredModel, error) {
	who, _ := IdentityFrom(ctx)
	m, err := co.cfg.Store.Promote(req.GetVersion())
	if err != nil {
		return nil, registryError(err)
	}
	co.championChanged(m)
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "model.promote", Object: m.GetVersion()})
	co.log.Info("model promoted", "version", m.GetVersion(), "by", who.Name)
	return m, nil
}

// RollbackModel implements fedscoregrpc.RegistryServer.
func (co *Coordinator) RollbackModel(ctx context.Context, _ *fedscorepb.RollbackModelRequest) (*fedscorepb.RegisteredModel, error) {
	who, _ := IdentityFrom(ctx)
	m, err := co.cfg.Store.Rollback()
	if err != nil {
		return nil, registryError(err)
	}
	co.championChanged(m)
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "model.rollback", Object: m.GetVersion()})
	co.log.Info("model rolled back", "champion", m.GetVersion(), "by", who.Name)
	return m, nil
}

// championChanged tells the score store, which answers unversioned
// queries with the champion's scores.
func (co *Coordinator) championChanged(m *fedscorepb.RegisteredModel) {
	if co.cfg.OnRegister != nil && m.GetChampion() {
		co.cfg.OnRegister(m)
	}
}
