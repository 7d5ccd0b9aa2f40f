package core

import (
	"context"
	"net/http"
)

type planInput struct {
	Plan string `path:"plan" maxLength:"64" doc:"Plan id, e.g. pro"`
}

type featureInput struct {
	Plan    string `path:"plan" maxLength:"64" doc:"Plan id"`
	Feature string `path:"feature" maxLength:"64" doc:"Feature key, e.g. sso"`
}

// FeatureCheck answers whether a plan includes a feature.
type FeatureCheck struct {
	Plan    string `json:"plan"`
	Feature string `json:"feature"`
	Allowed bool   `json:"allowed"`
}

func (s *Service) planOps() []Operation {
	return []Operation{
		newOp(s, Operation{ID: "listPlans", Method: http.MethodGet, Path: "/api/v1/plans", Summary: "List plans", Group: "plans", Access: public},
			func(ctx context.Context, c *Call, in *struct{}) (*Body[List[Plan]], error) {
				return &Body[List[Plan]]{Body: List[Plan]{Items: s.Plans.Plans()}}, nil
			}),
		newOp(s, Operation{ID: "getPlan", Method: http.MethodGet, Path: "/api/v1/plans/{plan}", Summary: "Get a plan's limits and features", Group: "plans", Access: public},
			func(ctx context.Context, c *Call, in *planInput) (*Body[Plan], error) {
				p, ok := s.Plans.Plan(in.Plan)
				if !ok {
					return nil, NotFound("plan")
				}
				return &Body[Plan]{Body: p}, nil
			}),
		newOp(s, Operation{ID: "checkPlanFeature", Method: http.MethodGet, Path: "/api/v1/plans/{plan}/check/{feature}", Summary: "Check whether a plan includes a feature", Group: "plans", Access: public},
			func(ctx context.Context, c *Call, in *featureInput) (*Body[FeatureCheck], error) {
				p, ok := s.Plans.Plan(in.Plan)
				if !ok {
					return nil, NotFound("plan")
				}
				// Unknown features are simply not included: false, not an error.
				return &Body[FeatureCheck]{Body: FeatureCheck{Plan: p.ID, Feature: in.Feature, Allowed: p.Features[in.Feature]}}, nil
			}),
	}
}
